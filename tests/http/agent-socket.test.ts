import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { Socket as ClientSocket } from 'socket.io-client';
import type { KefuApp } from '../../src/app.ts';
import { startConversation } from './test-app.ts';
import { ask, baseUrl, consoleApp, openSocket, PASSWORD, recorder, signIn, type SignedInAgent } from './console-kit.ts';

type QueuePush = { items: { handoff: { conversationId: string } }[] };
type MessagePush = { conversationId: string; message: { author: string; text: string; outcome: unknown } };

describe('agent console socket (/agent)', () => {
  let app: KefuApp;
  const sockets: ClientSocket[] = [];
  beforeEach(async () => {
    app = await consoleApp();
    await app.start();
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await app.stop();
  });

  const agentSocket = async (agent: SignedInAgent): Promise<ClientSocket> => {
    const s = await openSocket(app, '/agent', { token: agent.token });
    sockets.push(s);
    return s;
  };
  const refused = async (options: Parameters<typeof openSocket>[2]): Promise<{ message: string; data?: { code: string } }> => {
    try {
      sockets.push(await openSocket(app, '/agent', options));
    } catch (e) {
      return e as { message: string; data?: { code: string } };
    }
    throw new Error('the socket connected');
  };
  const say = async (c: { id: string; headers: Record<string, string> }, text: string) => {
    const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text } });
    expect(res.statusCode, res.body).toBe(200);
  };
  // The customer's side: the /chat socket in the conversation's room.
  const customerSocket = async (c: { id: string; token: string }): Promise<ClientSocket> => {
    const s = await openSocket(app, '/chat');
    sockets.push(s);
    const r = await ask(s, 'conversation:resume', { conversationId: c.id, token: c.token });
    expect(r.ok).toBe(true);
    return s;
  };

  it('refuses a handshake without a session, with a customer token, and from a trainer', async () => {
    const c = await startConversation(app);
    const trainer = await signIn(app, 'trainer1', { role: 'trainer', groups: [] });
    expect((await refused({})).data?.code).toBe('KEFU_SESSION_REQUIRED');
    expect((await refused({ token: c.token })).data?.code).toBe('KEFU_SESSION_REQUIRED');
    expect((await refused({ headers: { authorization: `Bearer ${c.token}` } })).data?.code).toBe('KEFU_SESSION_REQUIRED');
    expect((await refused({ token: trainer.token })).data).toMatchObject({ code: 'KEFU_ROLE_FORBIDDEN' });
    expect(app.presence.list()).toEqual([]);
  });

  it('accepts the session cookie a browser sends, and counts the agent on duty while connected', async () => {
    await app.accounts.create({ username: 'cookie', displayName: 'Cookie', role: 'agent', groups: ['bank'], password: PASSWORD });
    const login = await fetch(`${baseUrl(app)}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'cookie', password: PASSWORD }) });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const s = await openSocket(app, '/agent', { headers: { cookie } });
    sockets.push(s);
    await recorder<QueuePush>(s, 'queue').next();
    expect(app.presence.availableFor('bank')).toBe(1);
    expect(app.presence.availableFor('life')).toBe(0);
    expect((await ask(s, 'status', { status: 'away' })).ok).toBe(true);
    expect(app.presence.availableFor('bank')).toBe(0);
    s.disconnect();
    await expect.poll(() => app.presence.list().length).toBe(0);
  });

  it("pushes the agent's queue on connect and whenever it changes", async () => {
    const agent = await signIn(app, 'a1');
    const s = await agentSocket(agent);
    const queue = recorder<QueuePush>(s, 'queue');
    await queue.next((q) => q.items.length === 0);
    const c = await startConversation(app);
    await say(c, '我要找真人');
    await queue.next((q) => q.items.some((i) => i.handoff.conversationId === c.id));
    const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers });
    expect(res.statusCode).toBe(200);
    await queue.next((q) => q === queue.seen.at(-1) && q.items.length === 0);
    expect(await ask(s, 'queue:refresh')).toEqual({ ok: true, items: [] });
  });

  it("tells each console the agent's status, keeps it over a reload, and shows a change made on one console on the others", async () => {
    const agent = await signIn(app, 'away1');
    const first = await agentSocket(agent);
    await recorder<{ status: string }>(first, 'status').next((p) => p.status === 'available');
    const second = await agentSocket(agent);
    const onSecond = recorder<{ status: string }>(second, 'status');
    await onSecond.next((p) => p.status === 'available');
    expect((await ask(first, 'status', { status: 'away' })).ok).toBe(true);
    await onSecond.next((p) => p.status === 'away');
    // Both consoles reload: the new ones open away, and opening them sends the agent no customers.
    first.disconnect();
    second.disconnect();
    await expect.poll(() => app.presence.isConnected(agent.id)).toBe(false);
    const reloaded = await agentSocket(agent);
    expect(await recorder<{ status: string }>(reloaded, 'status').next()).toEqual({ status: 'away' });
    expect(app.presence.isAvailable(agent.id)).toBe(false);
  });

  it('carries messages and typing between the customer and the agent holding the conversation, live', async () => {
    const agent = await signIn(app, 'xiaomei', { name: '小美' });
    const console_ = await agentSocket(agent);
    const c = await startConversation(app, { channel: 'web', customerId: 'browser-live-1' });
    const widget = await customerSocket(c);
    const toCustomer = recorder<{ message: { author: string; text: string } }>(widget, 'message');
    const toAgent = recorder<MessagePush>(console_, 'conversation:message');
    const assigned = recorder<{ conversation: { id: string } }>(console_, 'conversation:assigned');

    await say(c, '我要找真人');
    expect((await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers })).statusCode).toBe(200);
    await assigned.next((a) => a.conversation.id === c.id);
    await toCustomer.next((m) => m.message.text === '專員 小美 已加入對話。');

    // The customer writes on the socket; the bot stays silent and the agent sees it at once.
    const sent = await ask(widget, 'message:send', { conversationId: c.id, token: c.token, text: '我的卡不見了', clientMessageId: 'w-1' });
    expect(sent).toMatchObject({ ok: true, reply: null });
    await toAgent.next((m) => m.message.author === 'customer' && m.message.text === '我的卡不見了');

    const agentTyping = recorder<{ typing: boolean }>(widget, 'agent:typing');
    expect(await ask(console_, 'typing', { conversationId: c.id, typing: true })).toMatchObject({ ok: true });
    expect(await agentTyping.next()).toEqual({ conversationId: c.id, typing: true });
    const customerTyping = recorder<{ typing: boolean }>(console_, 'customer:typing');
    await ask(widget, 'typing', { conversationId: c.id, token: c.token, typing: true });
    expect(await customerTyping.next()).toEqual({ conversationId: c.id, typing: true });

    await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/messages`, headers: agent.headers, payload: { text: '請問何時遺失的？' } });
    await toCustomer.next((m) => m.message.author === 'agent' && m.message.text === '請問何時遺失的？');
    await toAgent.next((m) => m.message.author === 'agent');

    // Another agent may not type into it.
    const other = await signIn(app, 'other');
    const otherSocket = await agentSocket(other);
    expect(await ask(otherSocket, 'typing', { conversationId: c.id, typing: true })).toMatchObject({ ok: false, error: { code: 'KEFU_NOT_CONVERSATION_OWNER' } });
    expect(await ask(otherSocket, 'typing', { conversationId: c.id })).toMatchObject({ ok: false, error: { code: 'KEFU_VALIDATION' } });
  });

  it("sends an agent's message from the socket once however often it is retried, under the agent's name for the customer", async () => {
    const agent = await signIn(app, 'ming', { name: '王小明' });
    const console_ = await agentSocket(agent);
    const c = await startConversation(app, { channel: 'web', customerId: 'browser-idem-1' });
    const widget = await customerSocket(c);
    const toCustomer = recorder<{ message: Record<string, unknown> }>(widget, 'message');
    const states = recorder<{ conversation: { state: string; agentName: string | null } }>(widget, 'conversation:state');
    await say(c, '我要找真人');
    expect((await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers })).statusCode).toBe(200);
    // The customer learns who is serving them with the change of state.
    expect((await states.next((e) => e.conversation.state === 'agent')).conversation.agentName).toBe('王小明');

    const payload = { conversationId: c.id, text: '您好，我是王小明', clientMessageId: 'console-1' };
    const first = (await ask(console_, 'message:send', payload)) as { ok: true; message: { id: string } };
    expect(first).toMatchObject({ ok: true, duplicate: false, message: { author: 'agent', text: '您好，我是王小明', agentId: agent.id, agentName: '王小明', clientMessageId: 'console-1' } });
    // Resent after a reconnect, and twice at once: the same message back, nothing new stored or pushed.
    const retries = await Promise.all([ask(console_, 'message:send', payload), ask(console_, 'message:send', payload)]);
    for (const r of retries) expect(r).toMatchObject({ ok: true, duplicate: true, message: { id: first.message.id } });
    const pushed = await toCustomer.next((m) => m.message.author === 'agent');
    expect(pushed.message).toMatchObject({ text: '您好，我是王小明', agentName: '王小明' });
    expect(pushed.message).not.toHaveProperty('agentId');
    await say(c, '好的'); // a later message, so anything pushed twice would have arrived by now
    await toCustomer.next((m) => m.message.text === '好的');
    expect(toCustomer.seen.filter((m) => m.message.author === 'agent')).toHaveLength(1);
    expect((await app.store.listMessages(c.id)).filter((m) => m.author === 'agent')).toHaveLength(1);

    expect(await ask(console_, 'message:send', { conversationId: c.id, text: '沒有編號' })).toMatchObject({ ok: false, error: { code: 'KEFU_VALIDATION' } });
    const other = await agentSocket(await signIn(app, 'other'));
    expect(await ask(other, 'message:send', { ...payload, clientMessageId: 'other-1' })).toMatchObject({ ok: false, error: { code: 'KEFU_NOT_CONVERSATION_OWNER' } });
  });

  it("pushes the live list's news only to agents of the conversation's group, and takes it off the others' lists when it moves", async () => {
    type LivePush = { conversation: { id: string }; message: { text: string; author?: string } };
    const life = await agentSocket(await signIn(app, 'live-life', { groups: ['life'] }));
    const bank = await agentSocket(await signIn(app, 'live-bank', { groups: ['bank'] }));
    const lifeNews = recorder<LivePush>(life, 'live:message');
    const bankNews = recorder<LivePush>(bank, 'live:message');
    const gone = recorder<{ conversationId: string }>(life, 'live:gone');
    expect(await ask(life, 'live:watch', {})).toMatchObject({ ok: true });
    expect(await ask(bank, 'live:watch', {})).toMatchObject({ ok: true });
    const c = await startConversation(app, { channel: 'web', customerId: 'browser-live-groups' });
    await say(c, '保單怎麼查'); // the life team's
    await lifeNews.next((m) => m.conversation.id === c.id && m.message.text === '回覆:保單怎麼查');
    await say(c, '信用卡掉了'); // now the bank's: off the life agent's list, on the bank agent's
    await gone.next((g) => g.conversationId === c.id);
    await bankNews.next((m) => m.conversation.id === c.id && m.message.text === '回覆:信用卡掉了');
    // Nor the customer's question: it waits for the bot's answer to say whose it is.
    await bankNews.next((m) => m.conversation.id === c.id && m.message.text === '信用卡掉了');
    expect(lifeNews.seen.map((m) => m.message.text)).not.toContain('信用卡掉了');
    expect(lifeNews.seen.map((m) => m.message.text)).not.toContain('回覆:信用卡掉了');
    expect(bankNews.seen.map((m) => m.message.text)).not.toContain('回覆:保單怎麼查');
  });

  it("lets an agent watch only a conversation of a group they serve (its pushes carry the customer's words)", async () => {
    const c = await startConversation(app, { channel: 'web', customerId: 'browser-watch-group' });
    await say(c, '卡被盜刷');
    const life = await agentSocket(await signIn(app, 'life-w', { groups: ['life'] }));
    expect(await ask(life, 'conversation:watch', { conversationId: c.id })).toMatchObject({ ok: false, error: { code: 'KEFU_CONVERSATION_FORBIDDEN' } });
    const bank = await agentSocket(await signIn(app, 'bank-w', { groups: ['bank'] }));
    expect(await ask(bank, 'conversation:watch', { conversationId: c.id })).toMatchObject({ ok: true });
  });

  it("shows agents the bot's traces and notes, and the customer neither", async () => {
    const agent = await signIn(app, 'a1');
    const console_ = await agentSocket(agent);
    const c = await startConversation(app, { channel: 'web', customerId: 'browser-live-2' });
    const widget = await customerSocket(c);
    const everything: [string, unknown][] = [];
    widget.onAny((event: string, payload: unknown) => everything.push([event, payload]));
    expect(await ask(console_, 'conversation:watch', { conversationId: c.id })).toMatchObject({ ok: true });
    const toAgent = recorder<MessagePush>(console_, 'conversation:message');
    const notes = recorder<{ note: { text: string } }>(console_, 'conversation:note');

    await say(c, '信用卡掉了');
    const botTurn = await toAgent.next((m) => m.message.author === 'bot');
    expect(botTurn.message.outcome).toMatchObject({ trace: { rule: 'test' }, confidence: 0.9 });
    await say(c, '我要找真人');
    await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers });
    await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/notes`, headers: agent.headers, payload: { text: '內部備註：VIP' } });
    await notes.next((n) => n.note.text === '內部備註：VIP');
    await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/messages`, headers: agent.headers, payload: { text: '您好' } });
    await expect.poll(() => everything.some(([e, p]) => e === 'message' && (p as MessagePush).message.text === '您好')).toBe(true);

    const seen = JSON.stringify(everything);
    expect(seen).not.toContain('VIP');
    expect(seen).not.toContain('trace');
    expect(seen).not.toContain('confidence');
    expect(everything.map(([e]) => e)).not.toContain('conversation:note');
  });

  it('tells a waiting customer their new place when the one ahead is claimed, and when nobody is on duty any more', async () => {
    const agent = await signIn(app, 'a1', { groups: ['bank'] });
    const console_ = await agentSocket(agent);
    await recorder(console_, 'queue').next();
    const first = await startConversation(app, { channel: 'web', customerId: 'browser-q-1' });
    const second = await startConversation(app, { channel: 'web', customerId: 'browser-q-2' });
    const widget = await customerSocket(second);
    const positions = recorder<{ position: { position: number; expectedWaitSeconds: number; callbackOffered: boolean } }>(widget, 'queue:position');
    await say(first, '卡被盜刷');
    await say(second, '卡被盜刷了');
    await positions.next((p) => p.position.position === 2 && !p.position.callbackOffered);
    const asked = await ask(widget, 'queue:position', { conversationId: second.id, token: second.token });
    expect(asked).toMatchObject({ ok: true, position: { position: 2, agentsOnline: 1 } });

    await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${first.id}/claim`, headers: agent.headers });
    await positions.next((p) => p.position.position === 1);
    console_.disconnect();
    await positions.next((p) => p.position.callbackOffered);

    // Nobody on duty: the customer leaves a message on the socket, and it becomes a callback ticket.
    const r = await ask(widget, 'callback:request', { conversationId: second.id, token: second.token, text: '請打給我', contactTime: '明天上午' });
    expect(r).toMatchObject({ ok: true, conversation: { state: 'queued' }, notice: { author: 'system' } });
    expect(await app.store.getOpenHandoff(second.id)).toMatchObject({ kind: 'callback', callback: { text: '請打給我', contactTime: '明天上午' } });
  });

  it('ends the socket when the agent signs out, and refuses events of a session that has ended', async () => {
    const agent = await signIn(app, 'a1');
    const s = await agentSocket(agent);
    const ended = new Promise((resolve) => s.once('session:ended', resolve));
    const gone = new Promise((resolve) => s.once('disconnect', resolve));
    const res = await app.fastify.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: agent.headers });
    expect(res.statusCode).toBe(204);
    await ended;
    await gone;
    expect((await refused({ token: agent.token })).data?.code).toBe('KEFU_SESSION_REQUIRED');

    // Disabled from the CLI (another process: no event reaches this one), the next event finds out.
    const b = await signIn(app, 'b1');
    const sb = await agentSocket(b);
    await app.store.deleteAgentSessions(b.id);
    expect(await ask(sb, 'queue:refresh')).toMatchObject({ ok: false, error: { code: 'KEFU_SESSION_REQUIRED' } });
    await expect.poll(() => sb.connected).toBe(false);
  });
});

describe('an agent who leaves (/agent)', () => {
  let app: KefuApp;
  const sockets: ClientSocket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await app.stop();
  });
  const start = async (releaseAfterSeconds: number) => {
    app = await consoleApp({ handoff: { releaseAfterSeconds } });
    await app.start();
  };
  const open = async (namespace: '/agent' | '/chat', token?: string): Promise<ClientSocket> => {
    const s = await openSocket(app, namespace, token ? { token } : {});
    sockets.push(s);
    return s;
  };
  const say = async (c: { id: string; headers: Record<string, string> }, text: string) => {
    const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text } });
    expect(res.statusCode, res.body).toBe(200);
    await app.handoff.idle();
  };
  const claim = async (agent: SignedInAgent, c: { id: string }) => {
    const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/claim`, headers: agent.headers });
    expect(res.statusCode, res.body).toBe(200);
    await app.handoff.idle();
  };
  const queueOrder = async () => (await app.store.listQueue()).map((h) => h.conversationId);

  it("puts their conversations back at the front of the queue once their console has been gone the grace period, and tells the customer", async () => {
    await start(0.3);
    const mei = await signIn(app, 'mei', { name: '小美' });
    const colleague = await signIn(app, 'colleague');
    const meiConsole = await open('/agent', mei.token);
    await open('/agent', colleague.token);
    await app.handoff.idle();
    const earlier = await startConversation(app, { channel: 'web', customerId: 'browser-early-1' });
    await say(earlier, '我要找真人');
    const held = await startConversation(app, { channel: 'web', customerId: 'browser-held-1' });
    await say(held, '我要找真人');
    const widget = await open('/chat');
    expect((await ask(widget, 'conversation:resume', { conversationId: held.id, token: held.token })).ok).toBe(true);
    const states = recorder<{ conversation: { state: string; agentName: string | null } }>(widget, 'conversation:state');
    const messages = recorder<{ message: { author: string; text: string } }>(widget, 'message');
    const positions = recorder<{ position: { position: number } }>(widget, 'queue:position');
    await claim(mei, held);
    const queuedAt = (await app.store.getOpenHandoff(held.id))!.queuedAt;
    expect(await queueOrder()).toEqual([earlier.id]);

    const released = recorder<{ conversation: { id: string }; handoff: { endReason: string } }>(meiConsole, 'conversation:released');
    meiConsole.disconnect(); // the laptop lid closes
    await expect.poll(async () => (await app.store.getConversation(held.id))?.state, { timeout: 10_000 }).toBe('queued');
    await app.handoff.idle();

    // First in line again, ahead of the customer who came before, and still waiting since they first queued.
    expect(await queueOrder()).toEqual([held.id, earlier.id]);
    const open_ = (await app.store.getOpenHandoff(held.id))!;
    expect(open_).toMatchObject({ trigger: 'release', queuedAt, targetAgentId: null });
    expect((await app.store.listHandoffs(held.id)).map((h) => h.endReason)).toEqual(['released', null]);
    // The customer is told, sees the state change (nobody serving them now) and their new place.
    await messages.next((m) => m.message.author === 'system' && m.message.text.startsWith('為您服務的專員已離線，已將您排回隊伍最前面'));
    expect((await states.next((s) => s.conversation.state === 'queued')).conversation.agentName).toBeNull();
    await positions.next((p) => p.position.position === 1);
    expect(released.seen).toEqual([]); // that console was closed; it finds out from GET /conversations/mine
    const queue = await app.fastify.inject({ method: 'GET', url: '/api/v1/agent/queue', headers: colleague.headers });
    expect(queue.json().items[0]).toMatchObject({ handoff: { conversationId: held.id, trigger: 'release' } });
    await claim(colleague, held);
    expect((await app.store.getConversation(held.id))?.agentName).toBe('colleague');
  });

  it('keeps them with an agent whose console comes back in time', async () => {
    await start(60);
    const mei = await signIn(app, 'mei', { name: '小美' });
    const first = await open('/agent', mei.token);
    const c = await startConversation(app, { channel: 'web', customerId: 'browser-back-1' });
    await say(c, '我要找真人');
    await claim(mei, c);
    first.disconnect();
    await expect.poll(() => app.presence.isConnected(mei.id)).toBe(false);
    await open('/agent', mei.token); // a reload
    // Had the grace period run out meanwhile, the release would find the console back and keep the conversation.
    expect(await app.handoff.releaseAgent(mei.id)).toBe(0);
    expect((await app.store.getConversation(c.id))?.state).toBe('agent');
  });

  it('releases at once when the agent signs out, unless another of their consoles is still signed in', async () => {
    await start(60); // far longer than the test: only signing out can release anything here
    const mei = await signIn(app, 'mei', { name: '小美' });
    const c = await startConversation(app, { channel: 'web', customerId: 'browser-out-1' });
    await say(c, '我要找真人');
    const home = await open('/agent', mei.token);
    // A second sign-in (the office PC) with its own session.
    const office = await fetch(`${baseUrl(app)}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'mei', password: PASSWORD, issueToken: true }) });
    const officeToken = ((await office.json()) as { token: string }).token;
    const officeConsole = await open('/agent', officeToken);
    await claim(mei, c);

    const gone = new Promise((resolve) => home.once('disconnect', resolve));
    expect((await app.fastify.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: mei.headers })).statusCode).toBe(204);
    await gone;
    await app.handoff.idle();
    expect((await app.store.getConversation(c.id))?.state).toBe('agent'); // the office console still serves it

    const released = recorder<{ conversation: { id: string } }>(officeConsole, 'conversation:released');
    expect((await app.fastify.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { authorization: `Bearer ${officeToken}` } })).statusCode).toBe(204);
    await expect.poll(async () => (await app.store.getConversation(c.id))?.state, { timeout: 10_000 }).toBe('queued');
    await app.handoff.idle();
    expect(await app.store.getOpenHandoff(c.id)).toMatchObject({ trigger: 'release', status: 'queued' });
    expect(released.seen).toEqual([]); // the socket was closed before the release
  });
});
