import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { KefuError } from '../../../src/errors.ts';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { pino } from 'pino';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import { createConversationService, type ConversationService } from '../../../src/conversation/conversation-service.ts';
import { loadConfig } from '../../../src/config.ts';
import type { Router } from '../../../src/router/router.ts';
import type { Outcome, OutcomeKind } from '../../../src/domain/types.ts';
import type { Store } from '../../../src/store/store.ts';
import { attachWebChat } from '../../../channels/web/web-chat.ts';
import { createIdentityVerifier } from '../../../src/conversation/customer-identity.ts';
import { IDENTITY_SECRET, identityToken } from '../../http/test-app.ts';
import type { PublicMessage as WebMessage } from '../../../src/http/schemas.ts';

// A scripted router: the text names the outcome it gets, so each test reads as a conversation.
function scriptedRouter(calls: string[]): Router {
  const route = (text: string): Outcome => {
    calls.push(text);
    // A router wedged on this one message (a stuck routing thread).
    if (text === '卡住') return new Promise<never>(() => undefined) as unknown as Outcome;
    const kind: OutcomeKind = text.includes('真人') ? 'handoff' : text.includes('???') ? 'fallback' : 'answer';
    return {
      text, outcome: kind, topic: kind === 'fallback' ? null : 'card.lost', brain: kind === 'fallback' ? null : 'faq', confidence: 0.9,
      candidates: [{ topic: 'card.lost', confidence: 0.9 }], entities: [], reply: `回覆:${text}`,
      options: kind === 'fallback' ? [{ topic: 'card.lost', title: '信用卡遺失' }] : [], needsVerification: false,
      trace: { normalised: text, faq: null, nlu: null, rule: 'test', thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, ms: 0 },
    };
  };
  return { thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, route, decide: (t) => route(t) };
}

// Stand-ins for the server's token functions: an HMAC of the conversation id under a test secret.
const SECRET = 'test-secret';
const issueToken = (conversationId: string): string => createHmac('sha256', SECRET).update(conversationId).digest('base64url');
let verifications = 0;
const verifyToken = (conversationId: string, token: string): boolean => {
  verifications++;
  const a = Buffer.from(issueToken(conversationId));
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
};

type Reply = { ok: true; [k: string]: unknown } | { ok: false; error: { code: string; message: string } };

describe('web chat channel (socket.io /chat)', () => {
  let store: Store;
  let service: ConversationService;
  let http: HttpServer;
  let ioServer: Server;
  let url: string;
  let calls: string[];
  let allowed: number;
  let addressAllowed: number;
  let startsAllowed: number;
  let addressKeys: string[];
  let accepting: boolean;
  let detach: () => void;
  const clients: ClientSocket[] = [];

  // A real listening server: http + socket.io + the channel, over the real service on an in-memory store.
  let loaded = true;
  // laterLimits: every limit answers 20 ms later, as Redis does when several instances share them.
  const serve = async (options: { greet?: boolean; typingAfterMs?: number; laterLimits?: boolean; maxEventWaitMs?: number } = {}): Promise<void> => {
    store = openSqliteStore(':memory:');
    calls = [];
    allowed = Infinity;
    addressAllowed = Infinity;
    startsAllowed = Infinity;
    addressKeys = [];
    accepting = true;
    const log = pino({ level: 'silent' });
    const later = (ok: boolean): boolean | Promise<boolean> => (options.laterLimits ? new Promise((resolve) => setTimeout(() => resolve(ok), 20)) : ok);
    service = createConversationService({ store, router: () => scriptedRouter(calls), log, defaultLocale: 'zh-TW' });
    http = createServer();
    ioServer = new Server(http, { serveClient: false });
    const config = loadConfig({ overrides: { router: { maxTextLength: 200 } } });
    detach = attachWebChat(ioServer, {
      service, log, verifyToken, issueToken, config, limiter: { take: () => later(allowed-- > 0) }, ...(options.greet ? { store } : {}),
      addressLimiter: { take: (key) => (addressKeys.push(key), later(addressAllowed-- > 0)) }, startLimiter: { take: () => later(startsAllowed-- > 0) },
      clientAddress: (socket) => `addr:${String(socket.handshake.headers['x-test-client'] ?? 'none')}`, accepting: () => accepting,
      typingAfterMs: options.typingAfterMs, localRooms: true, modelLoaded: () => loaded, maxEventWaitMs: options.maxEventWaitMs,
      verifyIdentity: createIdentityVerifier({ secret: IDENTITY_SECRET, audience: 'kefu', maxAgeMinutes: 15 }),
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/chat`;
  };
  const shutdown = async (): Promise<void> => {
    for (const c of clients.splice(0)) c.disconnect();
    detach();
    await new Promise<void>((resolve) => ioServer.close(() => resolve()));
    await store.close();
  };
  beforeEach(() => serve());
  afterEach(() => shutdown());

  const open = async (): Promise<ClientSocket> => {
    const socket = connect(url, { transports: ['websocket'], forceNew: true });
    clients.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return socket;
  };
  const ask = (socket: ClientSocket, event: string, ...payload: unknown[]): Promise<Reply> =>
    socket.timeout(10_000).emitWithAck(event, ...payload) as Promise<Reply>;
  const ok = async (socket: ClientSocket, event: string, payload: unknown): Promise<Record<string, any>> => {
    const r = await ask(socket, event, payload);
    if (!r.ok) throw new Error(`${event} failed: ${r.error.code} ${r.error.message}`);
    return r;
  };
  const start = async (socket: ClientSocket, customerId = 'browser-0001'): Promise<{ id: string; token: string }> => {
    const r = await ok(socket, 'conversation:start', { customerId });
    return { id: r.conversation.id as string, token: r.token as string };
  };
  // Collects every `message` push a socket receives, to wait for them without timing assumptions.
  const collect = (socket: ClientSocket): { messages: WebMessage[]; until(n: number): Promise<WebMessage[]> } => {
    const messages: WebMessage[] = [];
    const waiters: (() => void)[] = [];
    socket.on('message', (e: { message: WebMessage }) => {
      messages.push(e.message);
      for (const w of waiters.splice(0)) w();
    });
    return {
      messages,
      until: (n) =>
        new Promise((resolve) => {
          const check = (): void => (messages.length >= n ? resolve(messages) : void waiters.push(check));
          check();
        }),
    };
  };

  it('starts a conversation and answers a message through the acknowledgement', async () => {
    const socket = await open();
    const started = await ok(socket, 'conversation:start', { customerId: 'browser-0001', locale: 'zh-TW' });
    expect(started.conversation).toMatchObject({ state: 'bot', locale: 'zh-TW' });
    expect(started.token).toBe(issueToken(started.conversation.id));
    expect(started.messages).toEqual([]);

    const r = await ok(socket, 'message:send', { conversationId: started.conversation.id, token: started.token, text: '卡不見了', clientMessageId: 'c-1' });
    expect(r.customer).toMatchObject({ author: 'customer', text: '卡不見了', clientMessageId: 'c-1', seq: 1 });
    expect(r.reply).toMatchObject({ author: 'bot', text: '回覆:卡不見了', outcome: { outcome: 'answer', topic: 'card.lost' }, replyTo: r.customer.id, seq: 2 });
    expect(r.duplicate).toBe(false);
    // The router's reasoning stays on the server.
    expect(JSON.stringify(r)).not.toContain('trace');
    expect(JSON.stringify(r)).not.toContain('confidence');
  });

  it("starts the bank's vouched-for customer from an identity token in place of the browser id, and refuses a bad one", async () => {
    const socket = await open();
    const r = await ok(socket, 'conversation:start', { customerId: 'browser-0001', identityToken: await identityToken('cust-0042') });
    expect(r.conversation).toMatchObject({ customerId: 'bank:cust-0042' });
    expect(await store.getConversation(r.conversation.id)).toMatchObject({ customerVerified: true });
    const bad = await ask(socket, 'conversation:start', { customerId: 'browser-0001', identityToken: 'x.y.z' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'KEFU_IDENTITY_INVALID' } });
    const plain = await ok(socket, 'conversation:start', { customerId: 'browser-0001' });
    expect(await store.getConversation(plain.conversation.id)).toMatchObject({ customerId: 'browser-0001', customerVerified: false });
  });

  it('refuses a message while the model loads, before storing it, and takes it once the model is in', async () => {
    const socket = await open();
    const { id, token } = await start(socket);
    loaded = false;
    try {
      const r = await ask(socket, 'message:send', { conversationId: id, token, text: '卡不見了', clientMessageId: 'early' });
      expect(r).toMatchObject({ ok: false, error: { code: 'KEFU_NOT_READY' } });
      expect((await store.listMessages(id)).length).toBe(0);
    } finally {
      loaded = true;
    }
    const again = await ok(socket, 'message:send', { conversationId: id, token, text: '卡不見了', clientMessageId: 'early' });
    expect(again).toMatchObject({ duplicate: false, reply: { text: '回覆:卡不見了' } });
  });

  it("pushes the turn to the conversation's other sockets, not back to the one that sent it", async () => {
    const sender = await open();
    const { id, token } = await start(sender);
    const otherTab = await open();
    await ok(otherTab, 'conversation:resume', { conversationId: id, token });
    const toSender = collect(sender);
    const toOther = collect(otherTab);
    const r = await ok(sender, 'message:send', { conversationId: id, token, text: '繳費', clientMessageId: 'c-1' });
    expect(r.reply.text).toBe('回覆:繳費');
    await toOther.until(2);
    expect(toOther.messages.map((m) => m.author)).toEqual(['customer', 'bot']);
    // The sender's own turn came in its acknowledgement; a message it did not send still reaches it.
    await ok(otherTab, 'message:send', { conversationId: id, token, text: '還在嗎', clientMessageId: 'c-2' });
    await toSender.until(2);
    expect(toSender.messages.map((m) => m.text)).toEqual(['還在嗎', '回覆:還在嗎']);
  });

  it('shows the bot typing only while a slow answer is being worked out', async () => {
    await shutdown();
    await serve({ typingAfterMs: 20 });
    const socket = await open();
    const { id, token } = await start(socket);
    const typing: boolean[] = [];
    socket.on('bot:typing', (e: { typing: boolean }) => typing.push(e.typing));
    await ok(socket, 'message:send', { conversationId: id, token, text: '繳費', clientMessageId: 'c-1' });
    expect(typing).toEqual([]);
    const fast = service.handleCustomerMessage.bind(service);
    service.handleCustomerMessage = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return fast(...args);
    };
    // The answer itself ends the typing (the widget hides it on the bot's message): no separate push.
    const answered = await ok(socket, 'message:send', { conversationId: id, token, text: '慢慢來', clientMessageId: 'c-2' });
    expect(answered.reply).toMatchObject({ author: 'bot' });
    expect(typing).toEqual([true]);
    // Known to be the bot's without asking the store.
    const reads = vi.spyOn(service, 'get');
    await ok(socket, 'message:send', { conversationId: id, token, text: '再慢一點', clientMessageId: 'c-3' });
    expect(typing).toEqual([true, true]);
    expect(reads).not.toHaveBeenCalled();
    // A retry answered with the stored reply (pushed to other tabs long before): it says the typing is over.
    expect(await ok(socket, 'message:send', { conversationId: id, token, text: '再慢一點', clientMessageId: 'c-3' })).toMatchObject({ duplicate: true });
    await vi.waitFor(() => expect(typing).toEqual([true, true, true, false]));
    // A slow turn that fails says the typing is over.
    service.handleCustomerMessage = async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      throw new Error('router down');
    };
    expect(await ask(socket, 'message:send', { conversationId: id, token, text: '壞了', clientMessageId: 'c-4' })).toMatchObject({ ok: false });
    await vi.waitFor(() => expect(typing).toEqual([true, true, true, false, true, false]));
    // One held by a person stays quiet, slow or not.
    service.handleCustomerMessage = fast;
    await service.requestHuman(id);
    service.handleCustomerMessage = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return fast(...args);
    };
    await ok(socket, 'message:send', { conversationId: id, token, text: '有人嗎', clientMessageId: 'c-5' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(typing).toEqual([true, true, true, false, true, false]);
  });

  it("handles one socket's events in the order they came, though a limit answers later (several instances ask Redis)", async () => {
    await shutdown();
    await serve({ laterLimits: true });
    const socket = await open();
    const { id, token } = await start(socket);
    // The message, then at once the 轉真人客服 button: the message is answered first, then the conversation queued.
    const [sent, handed] = await Promise.all([
      ask(socket, 'message:send', { conversationId: id, token, text: '信用卡遺失', clientMessageId: 'o-1' }),
      ask(socket, 'handoff:request', { conversationId: id, token }),
    ]);
    expect(sent).toMatchObject({ ok: true, reply: { author: 'bot' } });
    expect(handed).toMatchObject({ ok: true });
    expect((await store.listMessages(id)).map((m) => m.author)).toEqual(['customer', 'bot', 'system']);
    // A flood behind a slow event waits only so far: past 32 waiting, events are refused at once.
    const flood = await Promise.all(Array.from({ length: 40 }, () => ask(socket, 'queue:position', { conversationId: id, token })));
    const refusedAtOnce = flood.filter((r) => !r.ok && r.error.code === 'KEFU_RATE_LIMITED');
    // (Exactly 8 when all 40 arrive before the first is done, as they do here; a slow machine may finish a few first.)
    expect(refusedAtOnce.length).toBeGreaterThan(0);
    expect(refusedAtOnce.length).toBeLessThanOrEqual(8);
    expect(flood.filter((r) => r.ok).length + refusedAtOnce.length).toBe(40);
  });

  it('lets the next events of a connection go on once one has been stuck for the longest wait', async () => {
    await shutdown();
    await serve({ maxEventWaitMs: 300 });
    const socket = await open();
    const { id, token } = await start(socket);
    const stuck = ask(socket, 'message:send', { conversationId: id, token, text: '卡住', clientMessageId: 's-1' });
    stuck.catch(() => undefined);
    const started = performance.now();
    expect(await ask(socket, 'queue:position', { conversationId: id, token })).toMatchObject({ ok: true });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('refuses malformed payloads with KEFU_VALIDATION and keeps serving the socket', async () => {
    const socket = await open();
    const { id, token } = await start(socket);
    const bad: [string, unknown][] = [
      ['conversation:start', { customerId: 'x' }],
      ['conversation:start', { customerId: 'A123456789' }],
      ['conversation:start', 'not an object'],
      ['conversation:start', null],
      ['message:send', { conversationId: id, token, clientMessageId: 'c-1' }],
      ['message:send', { conversationId: id, token, text: 42, clientMessageId: 'c-1' }],
      ['rating:conversation', { conversationId: id, token, stars: 6 }],
      ['rating:answer', { conversationId: id, token, messageId: 'm', feedback: 'meh' }],
      ['typing', { conversationId: id, token }],
      // A NUL or half a surrogate pair: no store keeps them as they came.
      ['message:send', { conversationId: id, token, text: '卡\u0000片', clientMessageId: 'c-nul' }],
      ['message:send', { conversationId: id, token, text: '卡片\ud83d', clientMessageId: 'c-half' }],
      ['conversation:resume', { conversationId: id, token, afterSeq: 3_000_000_000 }],
    ];
    for (const [event, payload] of bad) {
      const r = await ask(socket, event, payload);
      expect(r, `${event} ${JSON.stringify(payload)}`).toMatchObject({ ok: false, error: { code: 'KEFU_VALIDATION' } });
    }
    // No payload at all, and no acknowledgement at all, must not crash the handler either.
    expect(await ask(socket, 'message:send')).toMatchObject({ ok: false, error: { code: 'KEFU_VALIDATION' } });
    socket.emit('message:send', { nonsense: true });
    expect(await ask(socket, 'message:send', { conversationId: id, token, text: '', clientMessageId: 'c-2' })).toMatchObject({ ok: false, error: { code: 'KEFU_TEXT_EMPTY' } });
    expect(await ask(socket, 'message:send', { conversationId: id, token, text: '長'.repeat(201), clientMessageId: 'c-3' })).toMatchObject({
      ok: false, error: { code: 'KEFU_TEXT_TOO_LONG' },
    });
    const r = await ok(socket, 'message:send', { conversationId: id, token, text: '還在嗎', clientMessageId: 'c-4' });
    expect(r.reply.text).toBe('回覆:還在嗎');
    expect(calls).toEqual(['還在嗎']);
  });

  it('refuses a wrong token, whether or not the conversation exists, and does not join its room', async () => {
    const owner = await open();
    const { id, token } = await start(owner);
    const intruder = await open();
    const seen = collect(intruder);
    const wrong = issueToken('another-conversation');
    for (const [event, payload] of [
      ['conversation:resume', { conversationId: id, token: wrong }],
      ['message:send', { conversationId: id, token: wrong, text: '你好', clientMessageId: 'x-1' }],
      ['handoff:request', { conversationId: id, token: wrong }],
      ['rating:conversation', { conversationId: id, token: wrong, stars: 1 }],
    ] as const) {
      expect(await ask(intruder, event, payload)).toMatchObject({ ok: false, error: { code: 'KEFU_FORBIDDEN' } });
    }
    expect(await ask(intruder, 'conversation:resume', { conversationId: 'no-such-id', token: wrong })).toMatchObject({ ok: false, error: { code: 'KEFU_FORBIDDEN' } });
    await ok(owner, 'message:send', { conversationId: id, token, text: '你好', clientMessageId: 'c-1' });
    expect(calls).toEqual(['你好']);
    expect(seen.messages).toEqual([]);
    expect((await store.getConversation(id))?.state).toBe('bot');
  });

  it('checks a token once per socket, and still refuses a wrong one on a socket that showed the right one', async () => {
    const owner = await open();
    const { id, token } = await start(owner);
    verifications = 0;
    await ok(owner, 'message:send', { conversationId: id, token, text: '一', clientMessageId: 'c-1' });
    await ok(owner, 'message:send', { conversationId: id, token, text: '二', clientMessageId: 'c-2' });
    await ok(owner, 'rating:conversation', { conversationId: id, token, stars: 5 });
    expect(verifications).toBe(1);
    const wrong = issueToken('another-conversation');
    expect(await ask(owner, 'message:send', { conversationId: id, token: wrong, text: '三', clientMessageId: 'c-3' })).toMatchObject({
      ok: false, error: { code: 'KEFU_FORBIDDEN' },
    });
    // Nor does the socket's proof for this conversation let it into another one with the same token.
    const second = await start(await open(), 'browser-0002');
    expect(await ask(owner, 'message:send', { conversationId: second.id, token, text: '別人的', clientMessageId: 'c-5' })).toMatchObject({
      ok: false, error: { code: 'KEFU_FORBIDDEN' },
    });
    // Another socket proves it for itself.
    const other = await open();
    await ok(other, 'message:send', { conversationId: id, token, text: '四', clientMessageId: 'c-4' });
    expect(verifications).toBe(4);
    expect(calls).toEqual(['一', '二', '四']);
  });

  it('answers a retried message once and gives back the same reply', async () => {
    const socket = await open();
    const { id, token } = await start(socket);
    const send = { conversationId: id, token, text: '繳費', clientMessageId: 'same-id' };
    const [a, b] = await Promise.all([ok(socket, 'message:send', send), ok(socket, 'message:send', send)]);
    const c = await ok(socket, 'message:send', send);
    expect(calls).toEqual(['繳費']);
    expect([a.duplicate, b.duplicate, c.duplicate].filter(Boolean)).toHaveLength(2);
    expect(new Set([a.reply.id, b.reply.id, c.reply.id]).size).toBe(1);
    expect(new Set([a.customer.id, b.customer.id, c.customer.id]).size).toBe(1);
    expect(await store.listMessages(id)).toHaveLength(2);
  });

  it('resumes after a reload with the whole history, and after a network loss with what was missed', async () => {
    const first = await open();
    const { id, token } = await start(first, 'browser-reload');
    await ok(first, 'message:send', { conversationId: id, token, text: '一', clientMessageId: 'c-1' });
    await ok(first, 'message:send', { conversationId: id, token, text: '二', clientMessageId: 'c-2' });
    first.disconnect();

    // A reload: a new socket, the stored id and token.
    const reloaded = await open();
    const r = await ok(reloaded, 'conversation:resume', { conversationId: id, token });
    expect(r.conversation).toMatchObject({ id, state: 'bot' });
    expect(r.messages.map((m: WebMessage) => [m.seq, m.author, m.text])).toEqual([
      [1, 'customer', '一'], [2, 'bot', '回覆:一'], [3, 'customer', '二'], [4, 'bot', '回覆:二'],
    ]);

    // A start with resume and the open conversation's token (a second tab, say) joins the same conversation …
    const again = await ok(await open(), 'conversation:start', { customerId: 'browser-reload', resume: true, token });
    expect(again).toMatchObject({ resumed: true, conversation: { id } });
    expect(again.messages).toHaveLength(4);
    // … but knowing the customer id alone is not enough to read it: that starts a new conversation.
    const stranger = await ok(await open(), 'conversation:start', { customerId: 'browser-reload', resume: true });
    expect(stranger.resumed).toBe(false);
    expect(stranger.conversation.id).not.toBe(id);
    expect(stranger.messages).toEqual([]);

    // A network loss: messages arrive while the socket is away; resuming after the last seen seq brings them.
    reloaded.disconnect();
    await service.requestHuman(id);
    reloaded.connect();
    await new Promise<void>((resolve) => reloaded.once('connect', () => resolve()));
    const missed = await ok(reloaded, 'conversation:resume', { conversationId: id, token, afterSeq: 4 });
    expect(missed.conversation.state).toBe('queued');
    expect(missed.messages.map((m: WebMessage) => [m.seq, m.author])).toEqual([[5, 'system']]);
  });

  it('misses nothing said while a resume or a resuming start reads the history: the socket is in the room first, or reads again', async () => {
    const first = await open();
    const { id, token } = await start(first, 'browser-race');
    const real = store.listMessages.bind(store);
    // Each read of the history holds its answer until the test has had an agent's message stored and pushed.
    const between = async (event: string, payload: unknown, text: string): Promise<string[]> => {
      let reached!: () => void;
      const read = new Promise<void>((resolve) => (reached = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let armed = true;
      store.listMessages = async (...args) => {
        const r = await real(...args);
        if (armed) {
          armed = false;
          reached();
          await gate;
        }
        return r;
      };
      const socket = await open();
      const pushed = collect(socket);
      const answer = ok(socket, event, payload);
      await read;
      await service.postMessage(id, { author: 'system', text });
      release();
      const r = await answer;
      store.listMessages = real;
      // A push sent before the acknowledgement arrived before it (one connection, in order).
      return [...(r.messages as WebMessage[]), ...pushed.messages].map((m) => m.text);
    };
    expect(await between('conversation:resume', { conversationId: id, token }, '剛說的一')).toContain('剛說的一');
    expect(await between('conversation:start', { customerId: 'browser-race', resume: true, token }, '剛說的二')).toContain('剛說的二');
  });

  it('keeps a joined tab in its room when a resume (a resync, the next page) fails to read', async () => {
    const socket = await open();
    const { id, token } = await start(socket, 'browser-resync');
    const pushed = collect(socket);
    const real = store.listMessages.bind(store);
    store.listMessages = async () => {
      throw new KefuError('KEFU_STORE_FAILED', ['the database is failing over']);
    };
    expect(await ask(socket, 'conversation:resume', { conversationId: id, token })).toMatchObject({ ok: false, error: { code: 'KEFU_INTERNAL' } }); // storage details stay in the log
    store.listMessages = real;
    await service.postMessage(id, { author: 'system', text: '仍在線上' });
    expect((await pushed.until(1)).map((m) => m.text)).toEqual(['仍在線上']);
  });

  it('pushes every message and state change to a second tab in the same conversation', async () => {
    const tabA = await open();
    const { id, token } = await start(tabA);
    const tabB = await open();
    await ok(tabB, 'conversation:resume', { conversationId: id, token });
    const seenByB = collect(tabB);
    const states: string[] = [];
    tabB.on('conversation:state', (e: { conversation: { state: string } }) => states.push(e.conversation.state));
    const customerTyping = new Promise((resolve) => tabB.once('customer:typing', resolve));

    await ok(tabA, 'typing', { conversationId: id, token, typing: true });
    expect(await customerTyping).toEqual({ conversationId: id, typing: true });
    await ok(tabA, 'message:send', { conversationId: id, token, text: '繳費', clientMessageId: 'c-1' });
    const h = await ok(tabA, 'handoff:request', { conversationId: id, token });
    expect(h.conversation.state).toBe('queued');
    expect(h.notice.author).toBe('system');

    await seenByB.until(3);
    expect(seenByB.messages.map((m) => [m.author, m.text.slice(0, 6)])).toEqual([['customer', '繳費'], ['bot', '回覆:繳費'], ['system', h.notice.text.slice(0, 6)]]);
    // The state push comes right after the notice, from the same service call.
    await new Promise<void>((resolve) => (states.length > 0 ? resolve() : tabB.once('conversation:state', () => resolve())));
    expect(states).toEqual(['queued']);

    // While the queue holds the conversation the bot stays silent; the customer's words still reach the room.
    const silent = await ok(tabA, 'message:send', { conversationId: id, token, text: '有人嗎', clientMessageId: 'c-2' });
    expect(silent.reply).toBeNull();
    await seenByB.until(4);
    expect(seenByB.messages[3]?.text).toBe('有人嗎');
  });

  it('takes thumbs on bot answers and a star rating, and ends the conversation on request', async () => {
    const socket = await open();
    const { id, token } = await start(socket);
    const turn = await ok(socket, 'message:send', { conversationId: id, token, text: '???', clientMessageId: 'c-1' });
    expect(turn.reply).toMatchObject({ outcome: { outcome: 'fallback' }, quickReplies: [{ topic: 'card.lost', title: '信用卡遺失' }] });
    const up = await ok(socket, 'rating:answer', { conversationId: id, token, messageId: turn.reply.id, feedback: 'up' });
    expect(up.message.feedback).toBe('up');
    expect(await ask(socket, 'rating:answer', { conversationId: id, token, messageId: turn.customer.id, feedback: 'down' })).toMatchObject({
      ok: false, error: { code: 'KEFU_NOT_A_BOT_MESSAGE' },
    });
    const ended = await ok(socket, 'conversation:end', { conversationId: id, token });
    expect(ended.conversation.state).toBe('closed');
    const rated = await ok(socket, 'rating:conversation', { conversationId: id, token, stars: 4, comment: ' 很快 ' });
    expect(rated.conversation.rating).toMatchObject({ stars: 4, comment: '很快' });
    expect(await ask(socket, 'message:send', { conversationId: id, token, text: '再問', clientMessageId: 'c-2' })).toMatchObject({
      ok: false, error: { code: 'KEFU_CONVERSATION_CLOSED' },
    });
  });

  it('refuses messages over the per-conversation limit', async () => {
    const socket = await open();
    const { id, token } = await start(socket);
    allowed = 1;
    await ok(socket, 'message:send', { conversationId: id, token, text: '一', clientMessageId: 'c-1' });
    expect(await ask(socket, 'message:send', { conversationId: id, token, text: '二', clientMessageId: 'c-2' })).toMatchObject({
      ok: false, error: { code: 'KEFU_RATE_LIMITED' },
    });
    expect(calls).toEqual(['一']);
  });

  it("switches the conversation's language for every tab, and refuses one it does not have", async () => {
    const socket = await open();
    const { id, token } = await start(socket);
    const other = await open();
    await ok(other, 'conversation:resume', { conversationId: id, token });
    const pushed = new Promise<{ conversation: { locale: string } }>((resolve) => other.once('conversation:state', resolve));
    const r = await ok(socket, 'conversation:locale', { conversationId: id, token, locale: 'en' });
    expect(r.conversation.locale).toBe('en');
    expect((await pushed).conversation.locale).toBe('en');
    expect((await service.get(id)).locale).toBe('en');
    expect(await ask(socket, 'conversation:locale', { conversationId: id, token, locale: 'fr' })).toMatchObject({ ok: false, error: { code: 'KEFU_VALIDATION', message: expect.stringMatching(/locale/) } });
  });

  it('refuses any event over the per-address allowance, before looking at its payload, keyed by the client address', async () => {
    const socket = await open();
    const { id, token } = await start(socket);
    addressAllowed = 1;
    await ok(socket, 'conversation:resume', { conversationId: id, token });
    for (const [event, payload] of [['handoff:request', { conversationId: id, token }], ['conversation:start', { customerId: 'browser-0002' }], ['typing', 'not even an object']] as const) {
      expect(await ask(socket, event, payload)).toMatchObject({ ok: false, error: { code: 'KEFU_RATE_LIMITED', message: expect.stringMatching(/events a minute from one address/) } });
    }
    // Every event took from the allowance of the address clientAddress gave, the refused ones included.
    expect(addressKeys).toEqual(Array(5).fill('addr:none'));
    expect((await service.get(id)).state).toBe('bot');
  });

  it('refuses new conversations over the per-address start allowance, while the ones started keep talking', async () => {
    const socket = await open();
    startsAllowed = 1;
    const { id, token } = await start(socket);
    expect(await ask(socket, 'conversation:start', { customerId: 'browser-0002' })).toMatchObject({
      ok: false, error: { code: 'KEFU_RATE_LIMITED', message: expect.stringMatching(/new conversations a minute from one address/) },
    });
    await ok(socket, 'message:send', { conversationId: id, token, text: '你好', clientMessageId: 'c-1' });
    expect(calls).toEqual(['你好']);
  });

  it('refuses every event with KEFU_NOT_READY once the server is stopping, storing nothing', async () => {
    const socket = await open();
    const { id, token } = await start(socket);
    accepting = false;
    expect(await ask(socket, 'message:send', { conversationId: id, token, text: '還在嗎', clientMessageId: 'c-1' })).toMatchObject({
      ok: false, error: { code: 'KEFU_NOT_READY', message: expect.stringMatching(/stopping/) },
    });
    expect((await service.history(id)).messages.map((m) => m.text)).not.toContain('還在嗎');
  });

  it('opens a new conversation with the bot greeting when the channel is given the store', async () => {
    await shutdown();
    await serve({ greet: true });
    const socket = await open();
    const started = await ok(socket, 'conversation:start', { customerId: 'browser-greet' });
    expect(started.messages).toMatchObject([{ seq: 1, author: 'bot' }]);
    expect(started.messages[0].text).toContain('小福');
    const resumed = await ok(await open(), 'conversation:start', { customerId: 'browser-greet', resume: true, token: started.token });
    expect(resumed).toMatchObject({ resumed: true, messages: [{ id: started.messages[0].id }] });
  });
});
