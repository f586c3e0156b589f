import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Socket as ClientSocket } from 'socket.io-client';
import { createApp, type KefuApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { testConfig, startConversation } from '../http/test-app.ts';
import { ask, fakeSuggest, HANDOFF_PACK, handoffRouter, openSocket, recorder, signIn } from '../http/console-kit.ts';
import { POSTGRES_TEST_URL, dropTestSchemas, testSchema } from '../store/postgres-test-db.ts';
import { killRedis, startRedis } from '../http/private-redis.ts';

/** The machine's Redis (127.0.0.1:6379), or KEFU_TEST_REDIS_URL. */
const REDIS_TEST_URL = process.env.KEFU_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

type QueuePush = { items: { handoff: { conversationId: string } }[] };

describe('several instances on one PostgreSQL and one Redis', () => {
  const apps: KefuApp[] = [];
  const sockets: ClientSocket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await Promise.all(apps.splice(0).map((a) => a.stop()));
  });
  afterAll(() => dropTestSchemas());

  const instance = async (schema: string, overrides: Record<string, unknown> = {}): Promise<KefuApp> => {
    const config = testConfig({ database: { kind: 'postgres', url: POSTGRES_TEST_URL, schema }, redis: { url: REDIS_TEST_URL }, ...overrides });
    const app = await createApp(config, { router: handoffRouter(), pack: HANDOFF_PACK, suggest: fakeSuggest, log: pino({ level: 'silent' }) });
    apps.push(app);
    await app.start();
    return app;
  };
  const socket = async (...args: Parameters<typeof openSocket>): Promise<ClientSocket> => {
    const s = await openSocket(...args);
    sockets.push(s);
    return s;
  };

  it("carries the customer's and the agent's messages between sockets on different instances, and the queue to every console", async () => {
    const schema = testSchema();
    const [a, b] = [await instance(schema), await instance(schema)];
    // The agent signs in and watches the queue on instance B; the customer chats on instance A.
    const agent = await signIn(b, 'xiaomei', { name: '小美' });
    const console_ = await socket(b, '/agent', { token: agent.token });
    const queue = recorder<QueuePush>(console_, 'queue');
    const c = await startConversation(a, { channel: 'web', customerId: 'cluster-1' });
    const widget = await socket(a, '/chat');
    expect(await ask(widget, 'conversation:resume', { conversationId: c.id, token: c.token })).toMatchObject({ ok: true });
    const toCustomer = recorder<{ message: { author: string; text: string } }>(widget, 'message');

    // Queued on A: the console on B hears of it.
    expect(await ask(widget, 'message:send', { conversationId: c.id, token: c.token, text: '我要找真人', clientMessageId: 'k-1' })).toMatchObject({ ok: true });
    await queue.next((q) => q.items.some((i) => i.handoff.conversationId === c.id));
    // Instance A counts the agent on duty at B: the customer is told someone is coming, not offered a call back.
    const position = await a.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/queue`, headers: c.headers });
    expect(position.json().position).toMatchObject({ position: 1, agentsOnline: 1, callbackOffered: false });

    // Claimed on B: the customer on A is told, and the console on B sees what the customer writes on A.
    const assigned = recorder<{ conversation: { id: string } }>(console_, 'conversation:assigned');
    const toAgent = recorder<{ message: { author: string; text: string } }>(console_, 'conversation:message');
    const claim = await b.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers });
    expect(claim.statusCode, claim.body).toBe(200);
    await assigned.next((x) => x.conversation.id === c.id);
    await toCustomer.next((m) => m.message.text === '專員 小美 已加入對話。');
    await queue.next((q) => !q.items.some((i) => i.handoff.conversationId === c.id));
    expect(await ask(widget, 'message:send', { conversationId: c.id, token: c.token, text: '卡片被盜刷了', clientMessageId: 'k-2' })).toMatchObject({ ok: true, reply: null });
    await toAgent.next((m) => m.message.author === 'customer' && m.message.text === '卡片被盜刷了');

    // The agent answers on B; the customer's socket on A gets it, and typing crosses too.
    const agentTyping = recorder<{ typing: boolean }>(widget, 'agent:typing');
    expect(await ask(console_, 'typing', { conversationId: c.id, typing: true })).toMatchObject({ ok: true });
    expect(await agentTyping.next()).toEqual({ conversationId: c.id, typing: true });
    await b.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/messages`, headers: agent.headers, payload: { text: '已為您凍結卡片' } });
    await toCustomer.next((m) => m.message.author === 'agent' && m.message.text === '已為您凍結卡片');
  });

  it("gives an agent with consoles on two instances each queue push once, and a sign-out on one closes the console on the other", async () => {
    const schema = testSchema();
    const [a, b] = [await instance(schema), await instance(schema)];
    const agent = await signIn(a, 'ming', { name: '小明' });
    const solo = await signIn(a, 'solo', { name: '單' });
    const onA = await socket(a, '/agent', { token: agent.token });
    const onB = await socket(b, '/agent', { token: agent.token });
    const soloOnA = await socket(a, '/agent', { token: solo.token });
    const pushes = [recorder<QueuePush>(onA, 'queue'), recorder<QueuePush>(onB, 'queue'), recorder<QueuePush>(soloOnA, 'queue')];
    await Promise.all(pushes.map((p) => p.next()));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = pushes.map((p) => p.seen.length);
    const c = await startConversation(a, { channel: 'web', customerId: 'cluster-2' });
    await a.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '我要找真人' } });
    await Promise.all(pushes.map((p) => p.next((q) => q.items.length === 1)));
    await new Promise((resolve) => setTimeout(resolve, 500)); // time for any further push to arrive
    // The agent's console on A gets what A pushes to its consoles, as the console of an agent only on A does: not
    // A's pushes and B's as well.
    const [mingA, mingB, soloA] = pushes.map((p, i) => p.seen.length - before[i]!);
    expect(mingA).toBe(soloA);
    expect(mingB).toBeGreaterThan(0);
    expect((await b.fastify.inject({ method: 'GET', url: '/readyz' })).json().checks).toMatchObject({ redis: 'ok' });

    const closedOnB = new Promise<string>((resolve) => onB.on('disconnect', (reason) => resolve(reason)));
    expect((await a.fastify.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: agent.headers })).statusCode).toBeLessThan(300);
    expect(await closedOnB).toBe('io server disconnect');
  });

  it("tells a waiting customer their new place once, though every instance works it out, also when the change was on another instance", async () => {
    const schema = testSchema();
    const [a, b] = [await instance(schema), await instance(schema)];
    const c = await startConversation(a, { channel: 'web', customerId: 'cluster-position' });
    const widget = await socket(a, '/chat');
    expect(await ask(widget, 'conversation:resume', { conversationId: c.id, token: c.token })).toMatchObject({ ok: true });
    type PositionPush = { conversationId: string; position: { position: number; agentsOnline: number } };
    const positions = recorder<PositionPush>(widget, 'queue:position');
    await a.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '我要找真人' } });
    await positions.next((p) => p.position.agentsOnline === 0);
    // An agent comes on duty at B: both instances hear of it and work the place out again.
    const agent = await signIn(b, 'onduty', { name: '值班' });
    await socket(b, '/agent', { token: agent.token });
    await positions.next((p) => p.position.agentsOnline === 1);
    // A second customer queues behind, at B: nothing changes for this one.
    const other = await startConversation(b, { channel: 'web', customerId: 'cluster-position-2' });
    await b.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${other.id}/messages`, headers: other.headers, payload: { text: '我要找真人' } });
    await new Promise((resolve) => setTimeout(resolve, 700)); // time for any further push to arrive
    expect(positions.seen.filter((p) => p.position.agentsOnline === 1)).toHaveLength(1);
    // The one ahead (this customer) is claimed at B: the customer queued at B learns their new place, once.
    const otherWidget = await socket(b, '/chat');
    expect(await ask(otherWidget, 'conversation:resume', { conversationId: other.id, token: other.token })).toMatchObject({ ok: true });
    const otherPositions = recorder<PositionPush>(otherWidget, 'queue:position');
    const claim = await a.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers });
    expect(claim.statusCode, claim.body).toBe(200);
    await otherPositions.next((p) => p.position.position === 1);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(otherPositions.seen.filter((p) => p.position.position === 1)).toHaveLength(1);
  });

  it('shares the rate limits: a conversation or an address spread over the instances gets one allowance, not one each', async () => {
    const schema = testSchema();
    const limits = { rateLimit: { perConversationPerMinute: 3, perIpPerMinute: 12 } };
    const [a, b] = [await instance(schema, limits), await instance(schema, limits)];
    const c = await startConversation(a, { channel: 'web', customerId: 'limited' });
    const statuses: number[] = [];
    for (const [i, app] of [a, b, a, b].entries()) {
      const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: `第${i}則` } });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    // 12 requests a minute from one address across both: the start and four messages so far, then 7 more, then no.
    const reads: number[] = [];
    for (let i = 0; i < 8; i++) {
      const app = i % 2 === 0 ? b : a;
      reads.push((await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers })).statusCode);
    }
    expect(reads).toEqual([200, 200, 200, 200, 200, 200, 200, 429]);
  });

  it('tells its widgets and consoles to catch up when Redis is back, and they find what was said meanwhile', async () => {
    const first = await startRedis();
    try {
      const schema = testSchema();
      const own = { redis: { url: first.url } };
      const [a, b] = [await instance(schema, own), await instance(schema, own)];
      const agent = await signIn(b, 'catchup', { name: '阿哲' });
      const console_ = await socket(b, '/agent', { token: agent.token });
      const c = await startConversation(a, { channel: 'web', customerId: 'cluster-resync' });
      await a.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '我要找真人' } });
      expect((await b.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers })).statusCode).toBe(200);
      const widget = await socket(a, '/chat');
      const resumed = await ask(widget, 'conversation:resume', { conversationId: c.id, token: c.token });
      if (!resumed.ok) throw new Error(resumed.error.message);
      const lastSeq = Math.max(...(resumed.messages as { seq: number }[]).map((m) => m.seq));
      const [widgetResync, consoleResync] = [recorder(widget, 'resync'), recorder(console_, 'resync')];

      // Redis goes; the agent answers on B meanwhile: the push to the customer on A is lost on the way, not the answer.
      await killRedis(first.child);
      await expect.poll(async () => (await a.fastify.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      const sent = await b.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/messages`, headers: agent.headers, payload: { text: '久等了，我來處理' } });
      expect(sent.statusCode, sent.body).toBe(201);

      const second = await startRedis(first.port);
      first.child = second.child;
      await Promise.all([widgetResync.next(() => true, 10_000), consoleResync.next(() => true, 10_000)]);
      // What the widget asks for on `resync`: everything after the last message it showed.
      const caughtUp = await ask(widget, 'conversation:resume', { conversationId: c.id, token: c.token, afterSeq: lastSeq });
      if (!caughtUp.ok) throw new Error(caughtUp.error.message);
      expect((caughtUp.messages as { author: string; text: string }[]).map((m) => `${m.author}:${m.text}`)).toContain('agent:久等了，我來處理');
    } finally {
      await killRedis(first.child);
    }
  });

  it("skips pushes for consoles' views nobody shows anywhere, and still brings them to a console on another instance the moment it looks", async () => {
    const schema = testSchema();
    const fast = async (): Promise<KefuApp> => {
      const config = testConfig({ database: { kind: 'postgres', url: POSTGRES_TEST_URL, schema }, redis: { url: REDIS_TEST_URL } });
      const app = await createApp(config, { router: handoffRouter(), pack: HANDOFF_PACK, suggest: fakeSuggest, log: pino({ level: 'silent' }), clusterHeartbeatMs: 200 });
      apps.push(app);
      await app.start();
      return app;
    };
    const [a, b] = [await fast(), await fast()];
    await new Promise((resolve) => setTimeout(resolve, 400)); // both sure of each other's rooms by now
    const c = await startConversation(a, { channel: 'web', customerId: 'cluster-rooms' });
    // No console anywhere: a customer turn on A pushes nothing to the consoles' rooms (nothing published for them).
    const broadcasts: string[] = [];
    const adapter = a.io.of('/agent').adapter;
    const broadcast = adapter.broadcast.bind(adapter);
    adapter.broadcast = (packet, opts) => {
      broadcasts.push(...opts.rooms);
      broadcast(packet, opts);
    };
    await a.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '你好' } });
    expect(broadcasts.filter((r) => r.startsWith('live:') || r.startsWith('conv:'))).toEqual([]);
    const agent = await signIn(b, 'watcher', { name: '看板', groups: ['bank'] });
    const console_ = await socket(b, '/agent', { token: agent.token });
    const live = recorder<{ conversation: { id: string }; message: { text: string } }>(console_, 'live:message');
    expect(await ask(console_, 'live:watch', {})).toMatchObject({ ok: true });
    // At once: A pushes the live list's news to B's console, though no console on A shows it.
    await a.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '信用卡掉了' } });
    await live.next((m) => m.conversation.id === c.id && m.message.text === '信用卡掉了');
    expect(broadcasts).toContain('live:bank'); // now someone looks (in the group of the card question)
    // The list's preview, without the router's trace (every watching console gets every turn).
    const botTurn = await live.next((m) => m.conversation.id === c.id && (m.message as { author?: string }).author === 'bot');
    expect(botTurn.message).toMatchObject({ outcome: { outcome: 'answer', topic: 'card.lost' } });
    expect(JSON.stringify(botTurn.message)).not.toContain('trace');
    // Watching one conversation too: its messages come as they are written.
    const watched = recorder<{ conversationId: string; message: { text: string } }>(console_, 'conversation:message');
    expect(await ask(console_, 'conversation:watch', { conversationId: c.id })).toMatchObject({ ok: true });
    await a.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '保單' } });
    await watched.next((m) => m.conversationId === c.id && m.message.text === '保單');
  });

  it("puts a bot conversation on its answers' group's live list whichever instance answers it, and off the list of the group it left", async () => {
    type LivePush = { conversation: { id: string }; message: { text: string } };
    const schema = testSchema();
    const [a, b] = [await instance(schema), await instance(schema)];
    const bank = await socket(b, '/agent', { token: (await signIn(b, 'bank-live', { groups: ['bank'] })).token });
    const life = await socket(a, '/agent', { token: (await signIn(a, 'life-live', { groups: ['life'] })).token });
    const bankNews = recorder<LivePush>(bank, 'live:message');
    const lifeNews = recorder<LivePush>(life, 'live:message');
    const bankGone = recorder<{ conversationId: string }>(bank, 'live:gone');
    expect(await ask(bank, 'live:watch', {})).toMatchObject({ ok: true });
    expect(await ask(life, 'live:watch', {})).toMatchObject({ ok: true });
    const say = async (on: KefuApp, c: { id: string; headers: Record<string, string> }, text: string): Promise<void> => {
      const res = await on.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text } });
      expect(res.statusCode, res.body).toBe(200);
    };
    // The customer's requests reach whichever instance the load balancer picks.
    const c = await startConversation(a, { channel: 'web', customerId: 'cluster-live-groups' });
    await say(a, c, '信用卡掉了'); // the bank's, answered on A
    await bankNews.next((m) => m.conversation.id === c.id && m.message.text === '回覆:信用卡掉了');
    await say(b, c, '保單怎麼查'); // the life team's now, answered on B
    await lifeNews.next((m) => m.conversation.id === c.id && m.message.text === '回覆:保單怎麼查');
    await bankGone.next((g) => g.conversationId === c.id);
    await say(a, c, '???'); // a fallback on A, which last saw the card question: still the life team's
    await lifeNews.next((m) => m.conversation.id === c.id && m.message.text === '回覆:???');
    await lifeNews.next((m) => m.conversation.id === c.id && m.message.text === '???');
    // A card conversation after it, from A too: the bank console hears of it, and by then would have heard the fallback.
    const other = await startConversation(a, { channel: 'web', customerId: 'cluster-live-groups-2' });
    await say(a, other, '信用卡掉了');
    await bankNews.next((m) => m.conversation.id === other.id && m.message.text === '回覆:信用卡掉了');
    expect(bankNews.seen.filter((m) => m.conversation.id === c.id).map((m) => m.message.text)).toEqual(['信用卡掉了', '回覆:信用卡掉了']);
    // Bank on A, life on B, bank again on A, which last pushed it to the bank: the life team's lists are told it has
    // gone (what moved it is known from the write that moved it, not from what A last saw).
    const back = await startConversation(a, { channel: 'web', customerId: 'cluster-live-groups-back' });
    await say(a, back, '信用卡掉了');
    await say(b, back, '保單怎麼查');
    await lifeNews.next((m) => m.conversation.id === back.id && m.message.text === '回覆:保單怎麼查');
    // A life console opened now lists it (on A), and must hear that it has gone.
    const life2 = await socket(a, '/agent', { token: (await signIn(a, 'life-live-2', { groups: ['life'] })).token });
    const life2Gone = recorder<{ conversationId: string }>(life2, 'live:gone');
    const listed = await ask(life2, 'live:watch', {});
    expect(listed.ok && (listed.conversations as { conversation: { id: string } }[]).map((i) => i.conversation.id)).toContain(back.id);
    await say(a, back, '信用卡又掉了');
    await bankNews.next((m) => m.conversation.id === back.id && m.message.text === '回覆:信用卡又掉了');
    await life2Gone.next((g) => g.conversationId === back.id);
  });

  it('refuses Redis without PostgreSQL, and a URL that is not redis://', () => {
    expect(() => loadConfig({ env: { KEFU_REDIS_URL: REDIS_TEST_URL } })).toThrow(/redis\.url: several instances need one shared database/);
    expect(() => loadConfig({ overrides: { redis: { url: 'http://x' } } })).toThrow(/redis\.url: must be a redis/);
  });

  it('fails to start, naming Redis, when Redis cannot be reached', async () => {
    const config = testConfig({ database: { kind: 'postgres', url: POSTGRES_TEST_URL, schema: testSchema() }, redis: { url: 'redis://127.0.0.1:1' } });
    await expect(createApp(config, { router: handoffRouter(), log: pino({ level: 'silent' }) })).rejects.toMatchObject({ code: 'KEFU_NOT_READY', message: expect.stringContaining('Redis') });
  });
});
