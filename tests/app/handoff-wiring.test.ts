import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp, type KefuApp } from '../../src/app.ts';
import { startConversation, testConfig } from '../http/test-app.ts';
import { signIn } from '../http/console-kit.ts';

// The real engine on the mini pack: its topics' domains file handoffs, and its FAQ index suggests replies.
describe('handoff with the loaded model', () => {
  let dir: string;
  let app: KefuApp;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kefu-handoff-model-'));
    app = await createApp(testConfig({ packDir: 'tests/fixtures/packs/mini', modelDir: join(dir, 'models'), thresholdsFile: join(dir, 'thresholds.json') }), { log: pino({ level: 'silent' }) });
    await app.loadModel();
  });
  afterAll(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("files a request for a person under the domain of what was asked before, and suggests the pack's answers", async () => {
    const agent = await signIn(app, 'bank1', { groups: ['bank'] });
    const c = await startConversation(app);
    const send = (text: string) => app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text } });
    expect((await send('信用卡遺失了要怎麼掛失')).json().reply.outcome.topic).toBe('card.lost');
    const handoff = await send('我要找真人');
    expect(handoff.json().reply.outcome).toMatchObject({ outcome: 'handoff', topic: 'human.agent' });
    await app.handoff.idle();
    const queue = await app.fastify.inject({ method: 'GET', url: '/api/v1/agent/queue', headers: agent.headers });
    expect(queue.json().items[0].handoff).toMatchObject({ conversationId: c.id, group: 'bank', topic: 'human.agent' });

    await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers });
    await send('我的卡片不見了');
    const res = await app.fastify.inject({ method: 'GET', url: `/api/v1/agent/conversations/${c.id}/suggestions`, headers: agent.headers });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().suggestions[0]).toMatchObject({ topic: 'card.lost', title: '信用卡掛失', answer: '請立即撥打 0800-000-123 辦理掛失。' });
  });
});
