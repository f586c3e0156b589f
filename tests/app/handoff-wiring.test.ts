import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp, type KefuApp } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import { routerFor, startEngine } from '../../src/engine.ts';
import { startConversation, testConfig } from '../http/test-app.ts';
import { signIn } from '../http/console-kit.ts';

// The real engine on the mini pack: its topics' domains file handoffs, and its FAQ index suggests replies.
describe('handoff with the loaded model', () => {
  let dir: string;
  let app: KefuApp;
  let config: Config;
  const log = pino({ level: 'silent' });
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kefu-handoff-model-'));
    config = testConfig({ packDir: 'tests/fixtures/packs/mini', modelDir: join(dir, 'models'), thresholdsFile: join(dir, 'thresholds.json') });
    app = await createApp(config, { log });
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

  it('suggests from the model put in service later, not from the one loaded at start', async () => {
    const agent = await signIn(app, 'bank2', { groups: ['bank'] });
    const c = await startConversation(app);
    await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '信用卡遺失了要怎麼掛失' } });
    expect((await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers })).statusCode).toBe(200);
    const suggestions = async () => {
      const res = await app.fastify.inject({ method: 'GET', url: `/api/v1/agent/conversations/${c.id}/suggestions?k=1`, headers: agent.headers });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().suggestions as { topic: string; confidence: number }[];
    };
    expect((await suggestions())[0]?.topic).toBe('card.lost');

    // The same pack and model, but a FAQ brain that reads every question as card.pay: a newly published model.
    const engine = await startEngine(config, log, { train: 'never' });
    const faq = { faqs: engine.model.faq.faqs, toJSON: () => engine.model.faq.toJSON(), search: () => [{ topic: 'card.pay', confidence: 0.77 }] };
    app.setRouter(routerFor(config, engine.pack, { ...engine.model, faq }, engine.thresholds));
    expect(await suggestions()).toEqual([expect.objectContaining({ topic: 'card.pay', confidence: 0.77 })]);
  });
});
