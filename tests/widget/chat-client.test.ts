import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
// @ts-expect-error TS7016: a browser module without declarations (typed below)
import * as widgetClient from '../../public/widget/chat-client.js';

// A stand-in for the socket.io client: the test answers each emitted event itself.
type Handler = (...args: unknown[]) => void;
class FakeSocket {
  connected = false;
  handlers = new Map<string, Handler[]>();
  sent: { event: string; payload: Record<string, unknown>; ack: (err: unknown, res: unknown) => void }[] = [];
  answer: (event: string, payload: Record<string, unknown>) => unknown = () => ({ ok: false, error: { code: 'KEFU_INTERNAL', message: 'no answer' } });
  on(event: string, h: Handler) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), h]);
    return this;
  }
  timeout() {
    return this;
  }
  emit(event: string, payload: Record<string, unknown>, ack?: (err: unknown, res: unknown) => void) {
    if (!ack) return this;
    this.sent.push({ event, payload, ack });
    const res = this.answer(event, payload);
    queueMicrotask(() => ack(null, res));
    return this;
  }
  fire(event: string, ...args: unknown[]) {
    for (const h of this.handlers.get(event) ?? []) h(...args);
  }
}
let socket: FakeSocket;
vi.mock('../../node_modules/socket.io-client/dist/socket.io.esm.min.js', () => ({ io: () => socket }));

// The widget's modules are plain JavaScript for browsers, without type declarations: typed here by what the tests use.
interface ChatClient {
  open(): Promise<void>;
  send(text: string): void;
  setLocale(locale: string): Promise<void>;
}
const { createChatClient } = widgetClient as {
  createChatClient(options: { server: string; locale: () => string; storage: ReturnType<typeof memoryStorage>; emit: (type: string, data: unknown) => unknown; identityToken?: string | null; identityUrl?: string | null }): ChatClient;
};

const memoryStorage = () => {
  let conversation: { conversationId: string; token: string } | null = null;
  let owner: string | null = null;
  let outbox: { clientMessageId: string; text: string }[] = [];
  let n = 0;
  return {
    conversation: () => conversation,
    conversationOwner: () => owner,
    saveConversation: (conversationId: string, token: string, by: string | null = null) => ((conversation = { conversationId, token }), (owner = by)),
    forgetConversation: () => ((conversation = null), (owner = null)),
    customerId: () => 'customer-0001',
    outbox: () => outbox,
    pushOutbox: (e: { clientMessageId: string; text: string }, by: string | null = null) => ((outbox = [...outbox, e]), (owner = by)),
    clearOutbox: () => (outbox = []),
    dropOutbox: (id: string) => (outbox = outbox.filter((e) => e.clientMessageId !== id)),
    newMessageId: () => `m-${++n}`,
  };
};

const message = (seq: number, text = `m${seq}`) => ({ id: `id-${seq}`, conversationId: 'c1', seq, author: 'agent', text, quickReplies: [] });
const conversation = (locale = 'zh-TW') => ({ id: 'c1', state: 'bot', locale });

describe('widget chat client', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    socket = new FakeSocket();
  });
  afterEach(() => vi.useRealTimers());

  it('tries a refused start again with back-off when the panel was restored open, even though nothing is queued to send', async () => {
    let refusals = 2;
    socket.answer = (event) => {
      if (event === 'message:send') return { ok: true, conversation: { id: 'c1', state: 'bot', locale: 'zh-TW' }, customer: message(1), reply: null, duplicate: false };
      if (event !== 'conversation:start') return { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } };
      if (refusals-- > 0) return { ok: false, error: { code: 'KEFU_RATE_LIMITED', message: 'too many' } };
      return { ok: true, conversation: { id: 'c1', state: 'bot', locale: 'zh-TW' }, token: 't', messages: [], resumed: false };
    };
    const client = createChatClient({ server: 'http://kefu.test', locale: () => 'zh-TW', storage: memoryStorage(), emit: () => undefined });
    void client.open(); // restored open: before the socket connects
    socket.connected = true;
    socket.fire('connect');
    const starts = () => socket.sent.filter((s) => s.event === 'conversation:start').length;
    await vi.advanceTimersByTimeAsync(0);
    expect(starts()).toBe(1);
    // The customer types meanwhile: the message waits for the back-off too, rather than starting at once.
    await vi.advanceTimersByTimeAsync(1_000);
    client.send('你好');
    await vi.advanceTimersByTimeAsync(1_900);
    expect(starts()).toBe(1); // backing off
    await vi.advanceTimersByTimeAsync(200);
    expect(starts()).toBe(2);
    await vi.advanceTimersByTimeAsync(5_800);
    expect(starts()).toBe(2); // twice as long the second time
    await vi.advanceTimersByTimeAsync(300);
    expect(starts()).toBe(3);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(starts()).toBe(3); // started: no more
    expect(socket.sent.filter((s) => s.event === 'message:send')).toHaveLength(1);
  });


  it('brings back a long history page by page, by the seq each page ends at, though a live message arrives between pages', async () => {
    const storage = memoryStorage();
    storage.saveConversation('c1', 't');
    const shown = new Set<number>();
    socket.answer = (event, payload) => {
      if (event !== 'conversation:resume') return { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } };
      const after = (payload.afterSeq as number | undefined) ?? 0;
      // An agent's reply (seq 1300) is pushed live while the first page is on its way.
      if (after === 0) queueMicrotask(() => socket.fire('message', { message: message(1300) }));
      const seqs = Array.from({ length: Math.max(0, Math.min(500, 1300 - after)) }, (_, i) => after + i + 1);
      return { ok: true, conversation: conversation(), messages: seqs.map((q) => message(q)) };
    };
    createChatClient({
      server: 'http://kefu.test', locale: () => 'zh-TW', storage,
      emit: (type: string, data: unknown) => {
        if (type === 'messages') for (const m of data as { seq: number }[]) shown.add(m.seq);
      },
    });
    socket.connected = true;
    socket.fire('connect');
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent.filter((s) => s.event === 'conversation:resume').map((s) => s.payload.afterSeq)).toEqual([undefined, 500, 1000]);
    expect(shown.size).toBe(1300);
  });

  it('sends a message the server refused as too many again later, instead of dropping it', async () => {
    const storage = memoryStorage();
    let limited = true;
    const failed: unknown[] = [];
    socket.answer = (event) => {
      if (event === 'conversation:start') return { ok: true, conversation: conversation(), token: 't', messages: [], resumed: false };
      if (event === 'message:send') {
        if (limited) return { ok: false, error: { code: 'KEFU_RATE_LIMITED', message: 'too many' } };
        return { ok: true, conversation: conversation(), customer: message(2, '你好'), reply: message(3, '您好'), duplicate: false };
      }
      return { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } };
    };
    const client = createChatClient({ server: 'http://kefu.test', locale: () => 'zh-TW', storage, emit: (type: string, data: unknown) => type === 'failed' && failed.push(data) });
    socket.connected = true;
    socket.fire('connect');
    await vi.advanceTimersByTimeAsync(0);
    client.send('你好');
    await vi.advanceTimersByTimeAsync(0);
    expect(storage.outbox()).toHaveLength(1);
    limited = false;
    // Not at the 3 s of a server restarting: a limit's allowance takes longer to come back.
    await vi.advanceTimersByTimeAsync(14_900);
    expect(socket.sent.filter((s) => s.event === 'message:send')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(storage.outbox()).toEqual([]);
    expect(failed).toEqual([]);
    expect(socket.sent.filter((s) => s.event === 'message:send').map((s) => s.payload.clientMessageId)).toEqual(['m-1', 'm-1']);
  });

  it('applies a language chosen while the conversation was starting, once it has started', async () => {
    let lang = 'zh-TW';
    let startAck: ((res: unknown) => void) | null = null;
    socket.answer = (event, payload) => {
      if (event === 'conversation:locale') return { ok: true, conversation: conversation(payload.locale as string) };
      return { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } };
    };
    // The start is answered only when the test says.
    const emit = socket.emit.bind(socket);
    socket.emit = (event, payload, ack) => {
      if (event !== 'conversation:start' || !ack) return emit(event, payload, ack);
      socket.sent.push({ event, payload, ack });
      startAck = (res) => ack(null, res);
      return socket;
    };
    const client = createChatClient({ server: 'http://kefu.test', locale: () => lang, storage: memoryStorage(), emit: () => undefined });
    socket.connected = true;
    socket.fire('connect');
    void client.open();
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent.find((s) => s.event === 'conversation:start')?.payload.locale).toBe('zh-TW');
    lang = 'en';
    await client.setLocale('en'); // nothing to change yet: no conversation
    startAck!({ ok: true, conversation: conversation('zh-TW'), token: 't', messages: [], resumed: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent.filter((s) => s.event === 'conversation:locale').map((s) => s.payload.locale)).toEqual(['en']);
  });

  it('pages the history of a conversation resumed by a start too, and a page that failed is asked for again on reconnect', async () => {
    const storage = memoryStorage();
    const shown = new Set<number>();
    let failOnce = true;
    const page = (after: number) => Array.from({ length: Math.max(0, Math.min(500, 1200 - after)) }, (_, i) => message(after + i + 1));
    socket.answer = (event, payload) => {
      if (event === 'conversation:start') return { ok: true, conversation: conversation(), token: 't', messages: page(0), resumed: true };
      if (event !== 'conversation:resume') return { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } };
      const after = (payload.afterSeq as number | undefined) ?? 0;
      if (after === 500 && failOnce) {
        failOnce = false;
        // An agent's reply is pushed live just as the page fails.
        queueMicrotask(() => socket.fire('message', { message: message(1200) }));
        return { ok: false, error: { code: 'TIMEOUT', message: 'lost' } };
      }
      return { ok: true, conversation: conversation(), messages: page(after) };
    };
    const client = createChatClient({
      server: 'http://kefu.test', locale: () => 'zh-TW', storage,
      emit: (type: string, data: unknown) => {
        if (type === 'messages') for (const m of data as { seq: number }[]) shown.add(m.seq);
      },
    });
    socket.connected = true;
    socket.fire('connect');
    await client.open();
    await vi.advanceTimersByTimeAsync(0);
    expect(shown.size).toBe(501); // the first page and the live reply
    socket.connected = false;
    socket.fire('disconnect');
    socket.connected = true;
    socket.fire('connect');
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent.filter((s) => s.event === 'conversation:resume').map((s) => s.payload.afterSeq)).toEqual([500, 500, 1000]);
    expect(shown.size).toBe(1200);
  });

  it('forgets a stored conversation the server says it may no longer read, and shows nothing of it', async () => {
    for (const code of ['KEFU_CONVERSATION_EXPIRED', 'KEFU_FORBIDDEN', 'KEFU_CONVERSATION_NOT_FOUND']) {
      socket = new FakeSocket();
      const storage = memoryStorage();
      storage.saveConversation('c1', 't');
      const shown: unknown[] = [];
      socket.answer = () => ({ ok: false, error: { code, message: 'gone' } });
      createChatClient({ server: 'http://kefu.test', locale: () => 'zh-TW', storage, emit: (type: string, data: unknown) => (type === 'messages' ? shown.push(data) : undefined) });
      socket.connected = true;
      socket.fire('connect');
      await vi.advanceTimersByTimeAsync(0);
      expect(socket.sent.map((s) => s.event), code).toEqual(['conversation:resume']);
      expect(storage.conversation(), code).toBeNull();
      expect(shown, code).toEqual([]);
    }
  });

  it('on resync asks for what came after the last message shown, once, after any resume still running', async () => {
    const storage = memoryStorage();
    storage.saveConversation('c1', 't');
    socket.answer = (event, payload) => {
      if (event !== 'conversation:resume') return { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } };
      const after = (payload.afterSeq as number | undefined) ?? 0;
      return { ok: true, conversation: conversation(), messages: after === 0 ? [message(1), message(2)] : [message(3)] };
    };
    const shown: number[] = [];
    createChatClient({ server: 'http://kefu.test', locale: () => 'zh-TW', storage, emit: (type: string, data: unknown) => {
      if (type === 'messages') for (const m of data as { seq: number }[]) shown.push(m.seq);
    } });
    socket.connected = true;
    socket.fire('connect');
    await vi.advanceTimersByTimeAsync(0);
    expect(shown).toEqual([1, 2]);
    // Two resyncs close together: their resumes run one after the other, each from the last message shown.
    socket.fire('resync', {});
    socket.fire('resync', {});
    await vi.advanceTimersByTimeAsync(2_000);
    expect(socket.sent.filter((s) => s.event === 'conversation:resume').map((s) => s.payload.afterSeq)).toEqual([undefined, 2, 3]);
    expect(new Set(shown)).toEqual(new Set([1, 2, 3]));
  });

  it("starts with the bank's identity token, carries on without it when it is refused, and forgets another customer's conversation", async () => {
    const jwt = (sub: string) => `h.${Buffer.from(JSON.stringify({ sub })).toString('base64url')}.s`;
    const storage = memoryStorage();
    storage.saveConversation('old', 't-old', 'cust-1');
    let refuse = true;
    socket.answer = (event, payload) => {
      if (event !== 'conversation:start') return { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } };
      if (payload.identityToken && refuse) return { ok: false, error: { code: 'KEFU_IDENTITY_INVALID', message: 'expired' } };
      return { ok: true, conversation: conversation(), token: 't', messages: [], resumed: false };
    };
    storage.pushOutbox({ clientMessageId: 'left', text: '前一位客戶沒送出的話' }, 'cust-1');
    const client = createChatClient({ server: 'http://kefu.test', locale: () => 'zh-TW', storage, emit: () => undefined, identityToken: jwt('cust-2') });
    await vi.advanceTimersByTimeAsync(0);
    // Another signed-in customer's conversation is not this one's to resume, nor what they left unsent to send.
    expect(storage.conversation()).toBeNull();
    expect(storage.outbox()).toEqual([]);
    socket.connected = true;
    socket.fire('connect');
    await client.open();
    await vi.advanceTimersByTimeAsync(0);
    const starts = socket.sent.filter((s) => s.event === 'conversation:start').map((s) => s.payload.identityToken ?? null);
    expect(starts).toEqual([jwt('cust-2'), null]);
    expect(storage.conversationOwner()).toBeNull(); // started as a customer not signed in

    // A token the server takes: the conversation is recorded as that customer's.
    socket = new FakeSocket();
    refuse = false;
    socket.answer = (event) => (event === 'conversation:start' ? { ok: true, conversation: conversation(), token: 't', messages: [], resumed: false } : { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } });
    const fresh = memoryStorage();
    const signedIn = createChatClient({ server: 'http://kefu.test', locale: () => 'zh-TW', storage: fresh, emit: () => undefined, identityToken: jwt('cust-2') });
    socket.connected = true;
    socket.fire('connect');
    await signedIn.open();
    await vi.advanceTimersByTimeAsync(0);
    expect(fresh.conversationOwner()).toBe('cust-2');
  });

  it("fetches a fresh identity token from the bank's identity URL before it starts a conversation", async () => {
    const jwt = (sub: string) => `h.${Buffer.from(JSON.stringify({ sub })).toString('base64url')}.s`;
    const fetched: string[] = [];
    const fetchStub = vi.fn(async (url: string) => {
      fetched.push(url);
      return new Response(jwt('cust-9'), { status: 200 });
    });
    vi.stubGlobal('fetch', fetchStub);
    try {
      socket.answer = (event) => (event === 'conversation:start' ? { ok: true, conversation: conversation(), token: 't', messages: [], resumed: false } : { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } });
      const storage = memoryStorage();
      const client = createChatClient({ server: 'http://kefu.test', locale: () => 'zh-TW', storage, emit: () => undefined, identityUrl: 'https://bank.example/kefu-token' });
      socket.connected = true;
      socket.fire('connect');
      await client.open();
      await vi.advanceTimersByTimeAsync(0);
      expect(fetched.length).toBeGreaterThanOrEqual(2); // at load (whose conversation is stored?) and before the start
      expect(socket.sent.find((s) => s.event === 'conversation:start')?.payload.identityToken).toBe(jwt('cust-9'));
      expect(storage.conversationOwner()).toBe('cust-9');
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('asks where it stands when its conversation comes back to the queue (an agent left), rather than wait for a push', async () => {
    const storage = memoryStorage();
    storage.saveConversation('c1', 't');
    socket.answer = (event) => {
      if (event === 'conversation:resume') return { ok: true, conversation: { id: 'c1', state: 'agent', locale: 'zh-TW' }, messages: [] };
      if (event === 'queue:position') return { ok: true, position: { conversationId: 'c1', position: 1, expectedWaitSeconds: 60, agentsOnline: 1, callbackOffered: false } };
      return { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } };
    };
    const shown: unknown[] = [];
    createChatClient({ server: 'http://kefu.test', locale: () => 'zh-TW', storage, emit: (type: string, data: unknown) => (type === 'queue' ? shown.push(data) : undefined) });
    socket.connected = true;
    socket.fire('connect');
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent.filter((s) => s.event === 'queue:position')).toHaveLength(0);
    socket.fire('conversation:state', { conversation: { id: 'c1', state: 'queued', locale: 'zh-TW' } });
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent.filter((s) => s.event === 'queue:position')).toHaveLength(1);
    expect(shown.at(-1)).toMatchObject({ position: 1 });
  });

  it("reports the agent's typing as well as the bot's, for its own conversation only, saying whose it is", async () => {
    const storage = memoryStorage();
    storage.saveConversation('c1', 't');
    socket.answer = (event) =>
      event === 'conversation:resume'
        ? { ok: true, conversation: { id: 'c1', state: 'agent', locale: 'zh-TW' }, messages: [] }
        : { ok: false, error: { code: 'KEFU_NOT_FOUND', message: '' } };
    const typing: unknown[] = [];
    createChatClient({ server: 'http://kefu.test', locale: () => 'zh-TW', storage, emit: (type: string, data: unknown) => (type === 'typing' ? typing.push(data) : undefined) });
    socket.connected = true;
    socket.fire('connect');
    await vi.advanceTimersByTimeAsync(0);
    // As the server pushes them (channels/web/web-chat.ts): { conversationId, typing }.
    socket.fire('agent:typing', { conversationId: 'c1', typing: true });
    socket.fire('agent:typing', { conversationId: 'c2', typing: true }); // another conversation's room
    socket.fire('agent:typing', { conversationId: 'c1', typing: false });
    socket.fire('bot:typing', { conversationId: 'c1', typing: true });
    expect(typing).toEqual([{ author: 'agent', typing: true }, { author: 'agent', typing: false }, { author: 'bot', typing: true }]);
  });
});
