import { randomUUID } from 'node:crypto';
import type { Namespace, Server, Socket } from 'socket.io';
import { z } from 'zod';
import { LOCALES } from '../../src/domain/types.ts';
import type { ConversationEvent, ConversationService } from '../../src/conversation/conversation-service.ts';
import { startConversationWithWelcome } from '../../src/conversation/welcome-message.ts';
import type { IdentityVerifier, VouchedCustomer } from '../../src/conversation/customer-identity.ts';
import type { Config } from '../../src/config.ts';
import type { Logger } from '../../src/log.ts';
import type { Store } from '../../src/store/store.ts';
import { KefuError, isKefuError, type KefuErrorCode } from '../../src/errors.ts';
import type { HandoffEvent, HandoffService } from '../../src/handoff/handoff-service.ts';
import { maskPersonalData } from '../../src/text/mask-personal-data.ts';
// One customer view of conversations and messages on every transport: the same shapes as the REST API.
import { customerConversation as publicConversation, customerMessage as publicMessage } from '../../src/domain/customer-view.ts';
import { assertWellFormedText } from '../../src/text/well-formed.ts';
import { settlesWithin } from '../../src/time-limit.ts';

/** The socket.io namespace customers' browsers connect to. */
export const CHAT_NAMESPACE = '/chat';

/** The room every socket showing a conversation joins, so each tab and each reconnect sees every message. */
export const conversationRoom = (conversationId: string): string => `conv:${conversationId}`;

/** An acknowledgement's error: a stable KEFU_* code and a message fit to show. */
export type AckError = { code: KefuErrorCode; message: string };
export type Ack<T> = ({ ok: true } & T) | { ok: false; error: AckError };

export interface WebChatDeps {
  service: ConversationService;
  log: Logger;
  verifyToken(conversationId: string, token: string): boolean;
  issueToken(conversationId: string): string;
  /** Per-conversation allowance for customer messages (keyed by conversation id, as the REST API keys it). */
  limiter?: { take(key: string): boolean | Promise<boolean> };
  /** Per-address allowance for every event, keyed by the client's address (see `clientAddress`). */
  addressLimiter?: { take(key: string): boolean | Promise<boolean> };
  /** Per-address allowance for new conversations, shared with the REST API's starts. */
  startLimiter?: { take(key: string): boolean | Promise<boolean> };
  /** The client's address from its handshake (behind trusted proxies, X-Forwarded-For's); default the peer's. */
  clientAddress?: (socket: Socket) => string;
  /** False once the server is stopping: every event is then refused with KEFU_NOT_READY, and the widget retries. */
  accepting?: () => boolean;
  /** Checks the bank's identity tokens (shared with the REST API); without it, a start carrying one is refused. */
  verifyIdentity?: IdentityVerifier;
  config: Config;
  /** When given, a new conversation opens with the bot's stored greeting, as on the REST API. */
  store?: Store;
  /**
   * The handoff queue: when given, the customer learns their place in it (`queue:position` pushes and requests), can
   * leave a message for a call back (`callback:request`), and typing reaches the agent both ways.
   */
  handoff?: Pick<HandoffService, 'subscribe' | 'leaveCallback' | 'position' | 'customerTyping'>;
  /**
   * True when every socket of a room is in this process (socket.io's in-memory adapter): a push only the sending
   * socket would get is then skipped. False (the default) with an adapter shared between instances.
   */
  localRooms?: boolean;
  /**
   * False while the model loads: a message is then refused with KEFU_NOT_READY before it is stored, as on the REST
   * API, and the widget sends it again shortly.
   */
  modelLoaded?: () => boolean;
  /** How long an event of a connection waits for the one before it at most (default 30 s). */
  maxEventWaitMs?: number;
  /** The bot shows as typing only when its answer takes longer than this (default 300 ms). */
  typingAfterMs?: number;
}

// Most answers take a millisecond: a typing indicator for them would flash unseen and cost two pushes per turn
// (bench:chat measured the pushes as a fifth of the server's work), so it shows only for a slow answer.
const TYPING_AFTER_MS = 300;
/** Conversations whose token a socket has shown that it remembers (a customer's socket holds one, rarely two). */
const MAX_PROVEN_PER_SOCKET = 8;

// Payload schemas: the only place socket input is checked. Unknown keys are dropped rather than refused, so an
// older widget cached on a bank's page keeps working when a newer one adds a field.
const id = z.string().trim().min(1).max(128);
const token = z.string().min(1).max(1024);
const authed = { conversationId: id, token };

const schemas = {
  start: z.object({
    customerId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{8,128}$/, 'must be 8–128 letters, digits, _ or -')
      .refine((v) => maskPersonalData(v) === v, 'must not be personal data; use an opaque id'),
    locale: z.enum(LOCALES).optional(),
    resume: z.boolean().optional(),
    /** The open conversation's token: resuming by customer id alone would let whoever knows the id read it. */
    token: token.optional(),
    /** The bank's signed word for who the customer is (from its signed-in pages): its subject replaces customerId. */
    identityToken: z.string().trim().min(1).max(4096).optional(),
  }),
  resume: z.object({ ...authed, afterSeq: z.number().int().min(0).max(2_147_483_647).optional() }),
  send: z.object({ ...authed, text: z.string(), clientMessageId: id }),
  typing: z.object({ ...authed, typing: z.boolean() }),
  handoff: z.object(authed),
  locale: z.object({ ...authed, locale: z.enum(LOCALES) }),
  end: z.object(authed),
  rateConversation: z.object({ ...authed, stars: z.number().int().min(1).max(5), comment: z.string().trim().max(1000).optional() }),
  rateAnswer: z.object({ ...authed, messageId: id, feedback: z.enum(['up', 'down']) }),
  callback: z.object({ ...authed, text: z.string().trim().min(1, 'must not be empty').max(1000), contactTime: z.string().trim().max(100).optional() }),
  position: z.object(authed),
};

function parse<S extends z.ZodType>(schema: S, payload: unknown): z.infer<S> {
  assertWellFormedText(payload, '<payload>');
  const res = schema.safeParse(payload);
  if (res.success) return res.data;
  const details = res.error.issues.map((i) => `${i.path.join('.') || '<payload>'}: ${i.message}`);
  throw new KefuError('KEFU_VALIDATION', [details.join('; ')], { details });
}

type Handler = (payload: unknown, socket: Socket) => Promise<Record<string, unknown>>;

/**
 * Serves customers on the `/chat` namespace: start or resume a conversation, send messages, ask for a person,
 * rate. Every event is validated, answered through its acknowledgement, and checked against the conversation's
 * token. Service events are pushed to the conversation's room as `message` and `conversation:state`.
 * Returns a function that stops forwarding service events.
 */
export function attachWebChat(io: Server, deps: WebChatDeps): () => void {
  const { service, log, config } = deps;
  const nsp: Namespace = io.of(CHAT_NAMESPACE);
  const maxText = config.router.maxTextLength;
  const typingAfterMs = deps.typingAfterMs ?? TYPING_AFTER_MS;

  // Every conversation-scoped event proves it holds the conversation's token, checked before the conversation is
  // even looked up (so a wrong token cannot tell which ids exist), with the REST API's code.
  // A socket that has shown a conversation's token once is not asked to prove it again with the same token: the
  // HMAC on every message was 3 % of the main thread in bench:chat's profile. Only that socket's own proof counts.
  const proven = new WeakMap<Socket, Map<string, string>>();
  const authorise = (conversationId: string, tok: string, socket: Socket): void => {
    let mine = proven.get(socket);
    if (mine?.get(conversationId) === tok) return;
    if (!deps.verifyToken(conversationId, tok)) throw new KefuError('KEFU_FORBIDDEN', [conversationId]);
    if (!mine) proven.set(socket, (mine = new Map()));
    if (mine.size >= MAX_PROVEN_PER_SOCKET) mine.clear();
    mine.set(conversationId, tok);
  };
  const startConversation = async (input: { customerId: string; locale?: (typeof LOCALES)[number]; resume: boolean; vouched?: VouchedCustomer }) => {
    const full = { channel: 'web' as const, ...input };
    if (deps.store) return startConversationWithWelcome({ service, store: deps.store, brand: config.brand }, full);
    // Without a store there is nowhere to keep the profile; the id is still the one the bank vouched for.
    const { vouched, ...rest } = full;
    const r = await service.start({ ...rest, customerVerified: vouched !== undefined });
    return { ...r, messages: r.resumed ? (await service.history(r.conversation.id)).messages : [] };
  };

  const handlers: Record<string, Handler> = {
    async 'conversation:start'(payload, socket) {
      const p = parse(schemas.start, payload);
      // A resume of the customer's open conversation is not new, but it is only known to be one after a read: every
      // start counts, and a widget reloading a few times a minute stays far below the allowance.
      if (deps.startLimiter && !(await deps.startLimiter.take(addressOf(socket)))) {
        throw new KefuError('KEFU_RATE_LIMITED', [`at most ${config.rateLimit.startsPerIpPerMinute} new conversations a minute from one address`]);
      }
      let vouched: VouchedCustomer | undefined;
      if (p.identityToken !== undefined) {
        if (!deps.verifyIdentity) throw new KefuError('KEFU_IDENTITY_INVALID', ['this server takes no identity tokens']);
        vouched = await deps.verifyIdentity(p.identityToken);
      }
      const who = vouched ? { customerId: vouched.customerId, vouched } : { customerId: p.customerId };
      let r = await startConversation({ ...who, locale: p.locale, resume: p.resume ?? false });
      // Resumed only with proof: without the open conversation's token, the customer gets a new conversation.
      if (r.resumed && !(p.token && deps.verifyToken(r.conversation.id, p.token))) {
        r = await startConversation({ ...who, locale: p.locale, resume: false });
      }
      await socket.join(conversationRoom(r.conversation.id));
      // A resumed conversation was read before this socket joined its room: what was said in between was pushed to
      // the room without it, so it is read now (the widget shows each message once, by its seq).
      const missed = r.resumed ? (await service.history(r.conversation.id, r.messages.at(-1)?.seq ?? 0)).messages : [];
      return {
        conversation: publicConversation(r.conversation), token: deps.issueToken(r.conversation.id),
        messages: [...r.messages, ...missed].map(publicMessage), resumed: r.resumed,
      };
    },

    async 'conversation:resume'(payload, socket) {
      const p = parse(schemas.resume, payload);
      authorise(p.conversationId, p.token, socket);
      // In the room before the read: a message stored meanwhile is then pushed, read, or both, never neither.
      const room = conversationRoom(p.conversationId);
      const wasIn = socket.rooms.has(room); // a resync, or the next page of a long history
      await socket.join(room);
      try {
        const { conversation, messages } = await service.history(p.conversationId, p.afterSeq);
        return { conversation: publicConversation(conversation), messages: messages.map(publicMessage) };
      } catch (err) {
        // Only what this call joined is undone: a failed read must not cut a joined tab off its pushes.
        if (!wasIn) await socket.leave(room);
        throw err;
      }
    },

    async 'message:send'(payload, socket) {
      const p = parse(schemas.send, payload);
      authorise(p.conversationId, p.token, socket);
      if (p.text.length > maxText) throw new KefuError('KEFU_TEXT_TOO_LONG', [String(maxText)]);
      if (p.text.trim() === '') throw new KefuError('KEFU_TEXT_EMPTY');
      if (deps.modelLoaded && !deps.modelLoaded()) throw new KefuError('KEFU_NOT_READY', ['the model is still loading, retry shortly']);
      if (deps.limiter && !(await deps.limiter.take(p.conversationId))) {
        throw new KefuError('KEFU_RATE_LIMITED', [`at most ${config.rateLimit.perConversationPerMinute} messages a minute in one conversation`]);
      }
      const room = nsp.to(conversationRoom(p.conversationId));
      let typing = false;
      let done = false;
      const showTyping = (): void => {
        if (done) return;
        typing = true;
        room.emit('bot:typing', { conversationId: p.conversationId, typing: true });
      };
      const timer = setTimeout(() => {
        // Only when the bot will answer: a queued or agent-held conversation stays quiet. Known without a read in the
        // usual case: a read for every slow turn made a loaded server slower still.
        if (service.seenWithBot(p.conversationId)) return showTyping();
        service.get(p.conversationId).then((c) => (c.state === 'bot' ? showTyping() : undefined), () => undefined);
      }, typingAfterMs);
      let answered = false;
      try {
        // The sending socket gets the turn in its acknowledgement; the room's other sockets get it pushed.
        const r = await service.handleCustomerMessage(p.conversationId, { text: p.text, clientMessageId: p.clientMessageId, origin: socket.id });
        // A retry's stored reply was pushed by the turn that made it, before this one's typing showed.
        answered = r.reply !== null && !r.duplicate;
        return {
          conversation: publicConversation(r.conversation), customer: publicMessage(r.customer),
          reply: r.reply ? publicMessage(r.reply) : null, duplicate: r.duplicate,
        };
      } finally {
        done = true;
        clearTimeout(timer);
        // An answer ends the typing where it arrives (the widget hides it on the bot's message): one push fewer per
        // slow turn, when the server is busiest. Without one (a failure, a person took over), it is said.
        if (typing && !answered) room.emit('bot:typing', { conversationId: p.conversationId, typing: false });
      }
    },

    async typing(payload, socket) {
      const p = parse(schemas.typing, payload);
      authorise(p.conversationId, p.token, socket);
      // Others watching the conversation (another tab, later an agent console in this room) see the customer typing.
      socket.to(conversationRoom(p.conversationId)).emit('customer:typing', { conversationId: p.conversationId, typing: p.typing });
      deps.handoff?.customerTyping(p.conversationId, p.typing);
      return {};
    },

    async 'handoff:request'(payload, socket) {
      const p = parse(schemas.handoff, payload);
      authorise(p.conversationId, p.token, socket);
      const { conversation, notice } = await service.requestHuman(p.conversationId);
      return { conversation: publicConversation(conversation), notice: notice ? publicMessage(notice) : null };
    },

    async 'conversation:locale'(payload, socket) {
      const p = parse(schemas.locale, payload);
      authorise(p.conversationId, p.token, socket);
      const conversation = await service.setLocale(p.conversationId, p.locale);
      return { conversation: publicConversation(conversation) };
    },

    async 'conversation:end'(payload, socket) {
      const p = parse(schemas.end, payload);
      authorise(p.conversationId, p.token, socket);
      const conversation = await service.close(p.conversationId);
      return { conversation: publicConversation(conversation) };
    },

    async 'rating:conversation'(payload, socket) {
      const p = parse(schemas.rateConversation, payload);
      authorise(p.conversationId, p.token, socket);
      const conversation = await service.rateConversation(p.conversationId, p.stars, p.comment || null);
      return { conversation: publicConversation(conversation) };
    },

    async 'callback:request'(payload, socket) {
      const p = parse(schemas.callback, payload);
      authorise(p.conversationId, p.token, socket);
      if (!deps.handoff) throw new KefuError('KEFU_NOT_READY', ['call backs are not offered here']);
      if (deps.limiter && !(await deps.limiter.take(p.conversationId))) {
        throw new KefuError('KEFU_RATE_LIMITED', [`at most ${config.rateLimit.perConversationPerMinute} messages a minute in one conversation`]);
      }
      const r = await deps.handoff.leaveCallback(p.conversationId, { text: p.text, contactTime: p.contactTime || null });
      return { conversation: publicConversation(r.conversation), notice: publicMessage(r.notice) };
    },

    async 'queue:position'(payload, socket) {
      const p = parse(schemas.position, payload);
      authorise(p.conversationId, p.token, socket);
      return { position: deps.handoff ? await deps.handoff.position(p.conversationId) : null };
    },

    async 'rating:answer'(payload, socket) {
      const p = parse(schemas.rateAnswer, payload);
      authorise(p.conversationId, p.token, socket);
      const message = await service.rateAnswer(p.conversationId, p.messageId, p.feedback);
      return { message: publicMessage(message) };
    },
  };

  // Read once per socket: the handshake does not change, and proxy-addr parses X-Forwarded-For each time.
  const addresses = new WeakMap<Socket, string>();
  const addressOf = (socket: Socket): string => {
    let a = addresses.get(socket);
    if (a === undefined) addresses.set(socket, (a = deps.clientAddress ? deps.clientAddress(socket) : socket.handshake.address));
    return a;
  };
  // Checked before an event's payload is even parsed: a flood costs a map lookup each (a Redis call with several
  // instances), whatever it sends.
  // Asked before the limit and again after it: a wait for Redis may outlast the start of a shutdown.
  const refuseIfStopping = (): void => {
    if (deps.accepting && !deps.accepting()) throw new KefuError('KEFU_NOT_READY', ['the server is stopping, retry shortly']);
  };
  const admit = async (socket: Socket): Promise<void> => {
    refuseIfStopping();
    if (deps.addressLimiter && !(await deps.addressLimiter.take(addressOf(socket)))) {
      throw new KefuError('KEFU_RATE_LIMITED', [`at most ${config.rateLimit.socketEventsPerIpPerMinute} events a minute from one address`]);
    }
    refuseIfStopping();
  };

  nsp.on('connection', (socket) => {
    // One socket's events are handled one after another, in the order they came: a limit answered by Redis (several
    // instances) takes a round trip, and without this a customer's button pressed right after a message (a person,
    // another language, the end) overtook the message. Typing is fire-and-forget and goes straight through.
    let tail: Promise<unknown> = Promise.resolve(); // the last event's handling, settled either way
    // Events waiting behind a slow one are bounded: a socket that floods while one of its events is slow is refused
    // at once past this, rather than queueing without end (the per-address limit is only asked in turn).
    let waiting = 0;
    for (const [event, handle] of Object.entries(handlers)) {
      // socket.io passes (payload, ack), but a client may send no payload, no ack, or extra arguments.
      socket.on(event, (...args: unknown[]) => {
        const last = args[args.length - 1];
        const ack = typeof last === 'function' ? (last as (r: Ack<Record<string, unknown>>) => void) : undefined;
        const payload = args.length > (ack ? 1 : 0) ? args[0] : undefined;
        const refuse = (err: unknown): void => ack?.({ ok: false, error: toAckError(err, event, payload, log) });
        const run = async (): Promise<Record<string, unknown>> => {
          await admit(socket);
          return handle(payload, socket);
        };
        if (event === 'typing') return void run().then((result) => ack?.({ ok: true, ...result }), refuse);
        if (waiting >= MAX_WAITING_EVENTS) return refuse(new KefuError('KEFU_RATE_LIMITED', [`at most ${MAX_WAITING_EVENTS} events waiting on one connection`]));
        // Nothing before it: it starts now, in this turn (a customer's usual case, one event at a time, costs no more
        // than that). Otherwise it waits for the one before it, but not for ever: a turn stuck on a wedged router
        // must not freeze the connection (starts, history, the queue) behind it.
        const before = waiting > 0 ? tail : null;
        waiting++;
        const handled = (before ? settlesWithin(before, deps.maxEventWaitMs ?? MAX_EVENT_WAIT_MS).then(run) : run()).finally(() => waiting--);
        tail = handled.catch(() => undefined);
        handled.then((result) => ack?.({ ok: true, ...result }), refuse);
      });
    }
  });

  // The adapter encodes a push before it looks for sockets to send it to: for the usual room of one socket, the one
  // that sent the message, that was 8 % of the server's work in bench:chat for nobody.
  const onlyOrigin = (roomName: string, origin: string): boolean => {
    if (!deps.localRooms) return false;
    const members = nsp.adapter.rooms.get(roomName);
    return !members || (members.size === 1 && members.has(origin));
  };
  // The room's broadcast operator is made only for a push that goes out: making one allocates its sets of rooms, and
  // most events of a turn (its 'turn', the messages the sender has in its acknowledgement) go nowhere.
  const forward = (e: ConversationEvent): void => {
    const roomName = conversationRoom(e.conversation.id);
    if (e.type === 'message') {
      if (e.origin && onlyOrigin(roomName, e.origin)) return;
      const room = nsp.to(roomName);
      (e.origin ? room.except(e.origin) : room).emit('message', { conversationId: e.conversation.id, message: publicMessage(e.message) });
    } else if (e.type === 'state') nsp.to(roomName).emit('conversation:state', { conversation: publicConversation(e.conversation) });
    // 'turn' carries the router's trace: for consoles, never for customers.
  };
  // From the queue: where the customer stands, and the agent typing. Notes and queue lists never come this way.
  const forwardHandoff = (e: HandoffEvent): void => {
    // To this instance's sockets: every instance works positions out when the queue or who is on duty changes, and
    // tells its own customers (through the shared adapter, each customer would hear it once per instance).
    if (e.type === 'position') nsp.local.to(conversationRoom(e.position.conversationId)).emit('queue:position', { conversationId: e.position.conversationId, position: e.position });
    else if (e.type === 'typing' && e.author === 'agent') nsp.to(conversationRoom(e.conversationId)).emit('agent:typing', { conversationId: e.conversationId, typing: e.typing });
  };
  const unsubscribe = [service.subscribe(forward), deps.handoff?.subscribe(forwardHandoff)];
  return () => {
    for (const u of unsubscribe) u?.();
  };
}

/** Events of one connection waiting for the one before them (see the per-socket order in attachWebChat). */
const MAX_WAITING_EVENTS = 32;
/** How long the next event of a connection waits for the one before it at most. */
const MAX_EVENT_WAIT_MS = 30_000;


// As on the REST API: the customer's own mistakes and 503s go back as they are; any other failure becomes
// KEFU_INTERNAL naming an id to find it by in the log, so storage or model details never reach a browser.
function toAckError(err: unknown, event: string, payload: unknown, log: Logger): AckError {
  const conversationId = (payload as { conversationId?: unknown } | null)?.conversationId;
  const clog = typeof conversationId === 'string' ? log.child({ conversationId }) : log;
  if (isKefuError(err) && (err.status < 500 || err.status === 503)) {
    clog.debug({ event, code: err.code }, 'web chat event refused');
    return { code: err.code, message: err.message };
  }
  const errorId = randomUUID();
  clog.error({ err, event, errorId }, 'web chat event failed');
  const internal = new KefuError('KEFU_INTERNAL', [errorId]);
  return { code: internal.code, message: internal.message };
}
