import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { createApp, type KefuApp } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import { scriptedRouter, startConversation, testConfig } from '../http/test-app.ts';

const silent = pino({ level: 'silent' });

describe('app', () => {
  const dirs: string[] = [];
  const apps: KefuApp[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'kefu-app-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.stop()));
    dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('keeps the conversation across a restart on the same database: history intact, the next message answered', async () => {
    const config = testConfig({ database: { path: join(tmp(), 'kefu.sqlite') } });

    const first = await createApp(config, { router: scriptedRouter(), log: silent });
    apps.push(first);
    const { port } = await first.start();
    expect(port).toBeGreaterThan(0);
    const server1 = request(`http://127.0.0.1:${port}`);
    const created = await server1.post('/api/v1/conversations').send({ channel: 'web', customerId: 'browser-restart' }).expect(201);
    const { id } = created.body.conversation as { id: string };
    const auth = `Bearer ${created.body.token as string}`;
    const turn = await server1.post(`/api/v1/conversations/${id}/messages`).set('authorization', auth).send({ text: '信用卡掉了', clientMessageId: 'r-1' }).expect(200);
    expect(turn.body.reply.seq).toBe(3);
    await first.stop();
    await expect(server1.get('/healthz')).rejects.toThrow();

    const second = await createApp(config, { router: scriptedRouter(), log: silent });
    apps.push(second);
    const server2 = request(`http://127.0.0.1:${(await second.start()).port}`);
    const history = await server2.get(`/api/v1/conversations/${id}/messages`).set('authorization', auth).expect(200);
    expect(history.body.messages.map((m: { seq: number; author: string; text: string }) => [m.seq, m.author, m.text])).toEqual([
      [1, 'bot', expect.stringMatching(/^您好/)],
      [2, 'customer', '信用卡掉了'],
      [3, 'bot', '回覆:信用卡掉了'],
    ]);
    // A retry of the message sent before the restart is still recognised.
    const retry = await server2.post(`/api/v1/conversations/${id}/messages`).set('authorization', auth).send({ text: '信用卡掉了', clientMessageId: 'r-1' }).expect(200);
    expect(retry.body).toMatchObject({ duplicate: true, reply: { id: turn.body.reply.id } });
    const next = await server2.post(`/api/v1/conversations/${id}/messages`).set('authorization', auth).send({ text: '那要怎麼補發' }).expect(200);
    expect(next.body.customer.seq).toBe(4);
    expect(next.body.reply).toMatchObject({ seq: 5, text: '回覆:那要怎麼補發' });
    // The widget's resume call finds the same conversation.
    const resumed = await server2.post('/api/v1/conversations').set('authorization', auth).send({ channel: 'web', customerId: 'browser-restart', resume: true }).expect(200);
    expect(resumed.body.conversation.id).toBe(id);
  });

  it('answers with the real engine trained on the mini pack', async () => {
    const dir = tmp();
    const config = testConfig({
      packDir: 'tests/fixtures/packs/mini',
      modelDir: join(dir, 'models'),
      thresholdsFile: join(dir, 'thresholds.json'),
    });
    const app = await createApp(config, { log: silent });
    apps.push(app);
    expect(app.router()).toBeNull();
    await app.loadModel();
    expect((await app.fastify.inject('/readyz')).statusCode).toBe(200);
    const c = await startConversation(app);
    const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '信用卡遺失了怎麼掛失' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().reply.outcome).toMatchObject({ outcome: 'answer', topic: 'card.lost' });
    expect(res.json().reply.text).toContain('0800-000-123');
    const metrics = await app.fastify.inject('/metrics');
    expect(metrics.body).toMatch(/kefu_turns_total\{outcome="answer",brain="(faq|nlu)"\} 1/);
  });

  it('puts a new router in service without a restart', async () => {
    const app = await createApp(testConfig(), { router: scriptedRouter(), log: silent });
    apps.push(app);
    const c = await startConversation(app);
    const swapped = scriptedRouter();
    app.setRouter({ ...swapped, route: (text, state) => ({ ...swapped.route(text, state), reply: '新模型' }) });
    const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '卡' } });
    expect(res.json().reply.text).toBe('新模型');
  });

  it('on stop, finishes the message being answered before closing, then refuses new work', async () => {
    // A store whose bot replies wait for the test, so a turn is provably in flight when stop() is called.
    const inner = openSqliteStore(':memory:');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reachedReply!: () => void;
    const replying = new Promise<void>((r) => (reachedReply = r));
    const store: Store = {
      ...inner,
      kind: inner.kind,
      async appendMessage(input) {
        if (input.author === 'bot' && input.replyTo) {
          reachedReply();
          await gate;
        }
        return inner.appendMessage(input);
      },
      async appendTurn(input) {
        reachedReply();
        await gate;
        return inner.appendTurn(input);
      },
    };
    const app = await createApp(testConfig(), { store, router: scriptedRouter(), log: silent });
    const c = await startConversation(app);
    const order: string[] = [];
    const pending = app.fastify
      .inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '卡' } })
      .then((res) => {
        order.push(`reply ${res.statusCode}`);
        return res;
      });
    await replying;
    const stopped = app.stop().then(() => order.push('stopped'));
    order.push('stop called');
    release();
    const res = await pending;
    await stopped;
    expect(order).toEqual(['stop called', 'reply 200', 'stopped']);
    expect(res.json().reply.text).toBe('回覆:卡');
    await expect(app.fastify.inject('/healthz')).rejects.toThrow();
    // The store was handed in, so it is the caller's to close; the reply is in it.
    expect((await inner.listMessages(c.id)).map((m) => m.author)).toEqual(['bot', 'customer', 'bot']);
    await inner.close();
  });

  it('closes what it opened when start fails (a port taken, a pack that will not load), without waiting out a drain it never needed', async () => {
    const first = await createApp(testConfig(), { router: scriptedRouter(), log: silent });
    apps.push(first);
    const { port } = await first.start();
    // The port is taken: the store it opened is closed again, not left behind.
    const clash = await createApp(testConfig({ server: { port, drainSeconds: 300 } }), { router: scriptedRouter(), log: silent });
    await expect(clash.start()).rejects.toThrow();
    await expect(clash.store.getConversation('x')).rejects.toMatchObject({ code: 'KEFU_STORE_FAILED' });
    // No model and a pack that does not exist: refused at once, though drainSeconds is 300 (this test's time limit is 5 s).
    const broken = await createApp(testConfig({ packDir: join(tmp(), 'no-pack'), server: { drainSeconds: 300 } }), { log: silent });
    await expect(broken.start()).rejects.toThrow();
  });

  it('with a drain time, keeps serving on stop while /readyz says stopping, so a load balancer can move customers first', async () => {
    const app = await createApp(testConfig({ server: { drainSeconds: 2 } }), { router: scriptedRouter(), log: silent });
    const { port } = await app.start();
    const c = await startConversation(app);
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const stopped = app.stop();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ checks: { process: 'stopping' } });
    // A customer mid-conversation is still answered during the drain.
    const res = await fetch(`${base}/api/v1/conversations/${c.id}/messages`, {
      method: 'POST', headers: { ...c.headers, 'content-type': 'application/json' }, body: JSON.stringify({ text: '卡' }),
    });
    expect(res.status).toBe(200);
    await stopped;
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
