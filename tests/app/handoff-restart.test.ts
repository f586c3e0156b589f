import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp, type KefuApp } from '../../src/app.ts';
import { startConversation, testConfig } from '../http/test-app.ts';
import { fakeSuggest, HANDOFF_PACK, handoffRouter, signIn } from '../http/console-kit.ts';

const silent = pino({ level: 'silent' });

describe('handoff across a restart', () => {
  const dirs: string[] = [];
  const apps: KefuApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.stop()));
    dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
  });
  const boot = async (path: string, handoff: Record<string, unknown> = {}): Promise<KefuApp> => {
    const app = await createApp(testConfig({ database: { path }, handoff }), { router: handoffRouter(), pack: HANDOFF_PACK, suggest: fakeSuggest, log: silent });
    apps.push(app);
    await app.start();
    return app;
  };

  it('finds a queued conversation still queued, in its group and order, and lets an agent claim it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kefu-handoff-restart-'));
    dirs.push(dir);
    const path = join(dir, 'kefu.sqlite');

    const first = await boot(path);
    const agent = await signIn(first, 'xiaomei', { name: '小美', groups: ['bank'] });
    const plain = await startConversation(first);
    await first.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${plain.id}/handoff`, headers: plain.headers });
    const fraud = await startConversation(first);
    await first.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${fraud.id}/messages`, headers: fraud.headers, payload: { text: '卡被盜刷' } });
    const held = await startConversation(first);
    await first.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${held.id}/handoff`, headers: held.headers });
    await first.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${held.id}/claim`, headers: agent.headers });
    await first.stop();

    const second = await boot(path);
    // The session survives too (it is in the database), so the agent's console carries on.
    const queue = await second.fastify.inject({ method: 'GET', url: '/api/v1/agent/queue', headers: agent.headers });
    expect(queue.statusCode).toBe(200);
    expect(queue.json().items.map((i: { handoff: { conversationId: string; group: string } }) => [i.handoff.conversationId, i.handoff.group])).toEqual([
      [fraud.id, 'bank'], [plain.id, 'default'],
    ]);
    const mine = await second.fastify.inject({ method: 'GET', url: '/api/v1/agent/conversations/mine', headers: agent.headers });
    expect(mine.json().items.map((i: { conversation: { id: string; state: string } }) => [i.conversation.id, i.conversation.state])).toEqual([[held.id, 'agent']]);
    const history = await second.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${fraud.id}/messages`, headers: fraud.headers });
    expect(history.json().conversation.state).toBe('queued');
    // Still silent: no bot answer while it waits.
    const silentTurn = await second.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${fraud.id}/messages`, headers: fraud.headers, payload: { text: '還要等多久' } });
    expect(silentTurn.json().reply).toBeNull();

    const claim = await second.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${fraud.id}/claim`, headers: agent.headers });
    expect(claim.statusCode, claim.body).toBe(200);
    expect(claim.json().handoff).toMatchObject({ status: 'claimed', topic: 'fraud.report', priority: 1 });
  });

  it('gives an agent who held conversations before the restart the grace period to come back, then releases them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kefu-handoff-restart-'));
    dirs.push(dir);
    const path = join(dir, 'kefu.sqlite');
    const first = await boot(path);
    const agent = await signIn(first, 'xiaomei', { name: '小美' });
    const held = await startConversation(first);
    await first.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${held.id}/handoff`, headers: held.headers });
    await first.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${held.id}/claim`, headers: agent.headers });
    await first.stop();

    // Nobody's console reconnects to the new process: after the grace period the customer waits for the next agent.
    const second = await boot(path, { releaseAfterSeconds: 0.2 });
    await expect.poll(async () => (await second.store.getConversation(held.id))?.state, { timeout: 10_000 }).toBe('queued');
    await second.handoff.idle();
    expect(await second.store.getOpenHandoff(held.id)).toMatchObject({ trigger: 'release', status: 'queued' });
    expect(second.presence.list()).toEqual([]);
  });
});
