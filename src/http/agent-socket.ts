import { randomUUID } from 'node:crypto';
import type { Namespace, Server, Socket } from 'socket.io';
import { z } from 'zod';
import { servedGroups, type Agent } from '../domain/agent.ts';
import type { Conversation, Message } from '../domain/conversation.ts';
import { KefuError, isKefuError, type KefuErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import type { ConversationEvent, ConversationService } from '../conversation/conversation-service.ts';
import type { AgentAccounts } from '../handoff/agent-accounts.ts';
import type { AgentPresence } from '../handoff/agent-presence.ts';
import type { HandoffEvent, HandoffService } from '../handoff/handoff-service.ts';
import { authorise, sessionTokenFrom } from './agent-auth.ts';
import { assertWellFormedText } from '../text/well-formed.ts';
import type { RoomDirectory } from './room-directory.ts';

/** The socket.io namespace the agent console connects to. */
export const AGENT_NAMESPACE = '/agent';

/** Every console socket of one agent. */
export const agentRoom = (agentId: string): string => `agent:${agentId}`;
/** The consoles of one sign-in session (by its token's hash), wherever they are connected, to end them together. */
const sessionRoom = (tokenHash: string): string => `session:${tokenHash}`;
/** Consoles showing a conversation: its holder's (joined on claim) and any agent watching it. */
const WATCH_ROOM_PREFIX = 'conv:';
export const watchRoom = (conversationId: string): string => `${WATCH_ROOM_PREFIX}${conversationId}`;
/** Consoles showing the live list of bot-held conversations. */
// The live list (the bot's conversations, to pull one) by group: an agent sees only their groups' customers. Admins,
// who serve every group, are in LIVE_EVERY_GROUP.
const LIVE_ROOM_PREFIX = 'live:';
const LIVE_EVERY_GROUP = 'live:*';
const liveRoom = (group: string): string => `${LIVE_ROOM_PREFIX}${group}`;
const liveRoomsOf = (agent: Agent): string[] => servedGroups(agent)?.map(liveRoom) ?? [LIVE_EVERY_GROUP];
// Customers' questions held back for their answers, at most (answers that never came are dropped oldest first).
const HELD_BACK_KEPT = 10_000;

// How often every connected console's session is checked again, for sessions ended from another process (the
// user CLI disabling an account) or simply expired.
const SESSION_SWEEP_MS = 60_000;

export interface AgentSocketDeps {
  accounts: AgentAccounts;
  handoff: HandoffService;
  service: ConversationService;
  presence: AgentPresence;
  store: Store;
  log: Logger;
  /** Longest message an agent may send (router.maxTextLength, as on REST). */
  maxTextLength: number;
  /**
   * True when every socket of a room is in this process (socket.io's in-memory adapter): a push to a room with no
   * console in it is then skipped. False (the default) with an adapter shared between instances.
   */
  localRooms?: boolean;
  /** With an adapter shared between instances: which of the consoles' views have a console anywhere (see sharedViewRoom). */
  rooms?: Pick<RoomDirectory, 'anyoneIn' | 'settled'>;
}

/** The rooms of what consoles show (the live list, a conversation): the ones worth knowing across instances whether anyone is in. */
export const sharedViewRoom = (room: string): boolean => room.startsWith(LIVE_ROOM_PREFIX) || room.startsWith(WATCH_ROOM_PREFIX);

interface SocketData {
  agent: Agent;
  tokenHash: string;
}

type AckError = { code: KefuErrorCode; message: string };
type Handler = (payload: unknown, socket: Socket, data: SocketData) => Promise<Record<string, unknown>>;

const conversationId = z.string().trim().min(1).max(128);
const schemas = (maxTextLength: number) => ({
  watch: z.object({ conversationId }),
  typing: z.object({ conversationId, typing: z.boolean() }),
  status: z.object({ status: z.enum(['available', 'away']) }),
  // Required here: a socket resends after a reconnect, and only the id makes that safe.
  send: z.object({
    conversationId,
    text: z.string().trim().min(1, 'must not be empty').max(maxTextLength, `must be at most ${maxTextLength} characters`),
    clientMessageId: z.string().trim().min(1).max(100),
  }),
});

function parse<S extends z.ZodType>(schema: S, payload: unknown): z.infer<S> {
  assertWellFormedText(payload, '<payload>');
  const res = schema.safeParse(payload);
  if (res.success) return res.data;
  const details = res.error.issues.map((i) => `${i.path.join('.') || '<payload>'}: ${i.message}`);
  throw new KefuError('KEFU_VALIDATION', [details.join('; ')], { details });
}

/**
 * The agent console's live side on `/agent`: signed-in agents and admins only (session token in the handshake's
 * `auth.token`, a Bearer header, or the session cookie). Pushes the agent's status and queue, the messages, states,
 * notes and typing of the conversations they hold or watch, and the live list; takes typing, watch and status events.
 * Every event checks the session again. Returns a function that detaches it.
 */
export function attachAgentSocket(io: Server, deps: AgentSocketDeps): () => void {
  const { accounts, handoff, service, presence, store, log } = deps;
  const nsp: Namespace = io.of(AGENT_NAMESPACE);
  const schema = schemas(deps.maxTextLength);
  const dataOf = (socket: Socket): SocketData => socket.data as SocketData;

  nsp.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token = typeof auth?.token === 'string' ? auth.token : sessionTokenFrom(socket.handshake.headers);
    authorise(accounts, token, ['agent', 'admin'], 'use the agent console').then(
      (signedIn) => {
        Object.assign(socket.data as object, { agent: signedIn.agent, tokenHash: signedIn.session.tokenHash } satisfies SocketData);
        next();
      },
      (err: unknown) => {
        const e = isKefuError(err) ? err : new KefuError('KEFU_INTERNAL', [randomUUID()]);
        if (!isKefuError(err)) log.error({ err }, 'agent socket: handshake failed');
        // The client gets `connect_error` with this message and `data: { code, message }`.
        next(Object.assign(new Error(e.message), { data: { code: e.code, message: e.message } }));
      },
    );
  });

  const handlers: Record<string, Handler> = {
    async 'conversation:watch'(payload, socket, data) {
      const p = parse(schema.watch, payload);
      // Only a conversation the agent may read (their group's, one they hold or held): its pushes carry its messages.
      await handoff.checkAccess(data.agent, p.conversationId);
      await socket.join(watchRoom(p.conversationId));
      // The console reads the conversation once this answers: only after every instance knows to push it here.
      await deps.rooms?.settled(watchRoom(p.conversationId));
      return {};
    },
    async 'conversation:unwatch'(payload, socket) {
      const p = parse(schema.watch, payload);
      await socket.leave(watchRoom(p.conversationId));
      return {};
    },
    async 'message:send'(payload, _socket, data) {
      const p = parse(schema.send, payload);
      const r = await handoff.sendMessage(data.agent, p.conversationId, { text: p.text, clientMessageId: p.clientMessageId });
      return { message: r.message, duplicate: r.duplicate };
    },
    async typing(payload, _socket, data) {
      const p = parse(schema.typing, payload);
      await handoff.agentTyping(data.agent, p.conversationId, p.typing);
      return {};
    },
    async status(payload, _socket, data) {
      const p = parse(schema.status, payload);
      presence.setStatus(data.agent.id, p.status);
      return { status: p.status };
    },
    async 'live:watch'(_payload, socket, data) {
      const rooms = liveRoomsOf(data.agent);
      await socket.join(rooms);
      await Promise.all(rooms.map((r) => deps.rooms?.settled(r))); // as for a watch: read once every instance pushes here
      return { conversations: await handoff.live(data.agent) };
    },
    async 'live:unwatch'(_payload, socket) {
      for (const room of [...socket.rooms]) if (room.startsWith(LIVE_ROOM_PREFIX)) await socket.leave(room);
      return {};
    },
    async 'queue:refresh'(_payload, _socket, data) {
      return { items: await handoff.queue(data.agent) };
    },
  };

  nsp.on('connection', (socket) => {
    const data = dataOf(socket);
    const slog = log.child({ agentId: data.agent.id, socketId: socket.id });
    void socket.join([agentRoom(data.agent.id), sessionRoom(data.tokenHash)]);
    presence.connect(data.agent, socket.id);
    // The console shows the status the server holds (kept across a reload, chosen on another console or instance),
    // rather than telling the server what its own dropdown happens to say.
    socket.emit('status', { status: presence.statusOf(data.agent.id) ?? 'available' });
    // The server closes a console itself (disconnectSockets, on any instance) only when its session has ended.
    socket.on('disconnect', (reason) => presence.disconnect(socket.id, { sessionEnded: reason === 'server namespace disconnect' }));
    // A console that reconnects (or opens in a second tab) gets its conversations and queue back at once.
    void (async () => {
      for (const h of await store.listClaimed(data.agent.id)) await socket.join(watchRoom(h.conversationId));
      socket.emit('queue', { items: await handoff.queue(data.agent) });
    })().catch((err: unknown) => slog.error({ err }, 'agent socket: initial state failed'));

    for (const [event, handle] of Object.entries(handlers)) {
      socket.on(event, (...args: unknown[]) => {
        const last = args[args.length - 1];
        const ack = typeof last === 'function' ? (last as (r: Record<string, unknown>) => void) : undefined;
        const payload = args.length > (ack ? 1 : 0) ? args[0] : undefined;
        (async () => {
          // The session may have ended since the handshake (signed out elsewhere, expired, account disabled).
          const signedIn = await accounts.authenticateHash(data.tokenHash);
          if (!signedIn) {
            setImmediate(() => socket.disconnect(true));
            throw new KefuError('KEFU_SESSION_REQUIRED', ['the session has ended or expired; sign in again']);
          }
          data.agent = signedIn.agent;
          return handle(payload, socket, data);
        })().then(
          (result) => ack?.({ ok: true, ...result }),
          (err: unknown) => ack?.({ ok: false, error: toAckError(err, event, slog) }),
        );
      });
    }
  });

  // ---- What the service and the queue say, pushed to the consoles that show it --------------------------------

  // Every customer turn is news for the live list and for consoles watching the conversation. The adapter encodes a
  // push (trace included) before it looks for sockets to send it to: with no console in the room, that was a tenth
  // of the chat server's main thread in bench:chat, for nobody.
  // With several instances, the directory says whether a console on any of them shows it.
  const anyoneIn = (room: string): boolean =>
    deps.localRooms ? (nsp.adapter.rooms.get(room)?.size ?? 0) > 0 : deps.rooms ? deps.rooms.anyoneIn(room) : true;
  const push = (room: string, event: string, data: unknown): void => {
    if (anyoneIn(room)) nsp.to(room).emit(event, data);
  };
  // A bot conversation's news goes to the live list of its group: Conversation.topicGroup, which the store keeps with
  // each answer, so that every instance (and one just restarted) pushes it to the same agents, whatever answers it
  // happened to see. The group an answer moved it from comes from the same write (movedFrom), not from what this
  // process last saw, which another instance's answers may have made stale.
  // A customer's words wait for the bot's answer, a moment later in the same turn, which says whose they are: the
  // question "信用卡掉了" is the card team's, not every group's to read first.
  const heldBack = new Map<string, unknown>();
  const pushLive = (conversation: Conversation, message: Message | null, event: string, data: unknown, movedFrom?: string): void => {
    const id = conversation.id;
    if (message?.author === 'customer') {
      heldBack.delete(id);
      heldBack.set(id, data);
      if (heldBack.size > HELD_BACK_KEPT) heldBack.delete(heldBack.keys().next().value!); // answers that never came
      return;
    }
    const question = message ? heldBack.get(id) : undefined;
    heldBack.delete(id);
    // Null only for a conversation begun before groups were kept and not answered since (its next answer records
    // it): to the admins' lists alone, rather than to a group it may not belong to.
    const group = conversation.topicGroup;
    // Moved to another group (a card question after a greeting): gone from the lists of those who no longer serve it.
    if (group !== null && movedFrom !== undefined && anyoneIn(liveRoom(movedFrom))) {
      nsp.to(liveRoom(movedFrom)).except(liveRoom(group)).except(LIVE_EVERY_GROUP).emit('live:gone', { conversationId: id });
    }
    const rooms = [...(group === null ? [] : [liveRoom(group)]), LIVE_EVERY_GROUP].filter(anyoneIn);
    if (rooms.length === 0) return;
    if (question !== undefined) nsp.to(rooms).emit('live:message', question);
    nsp.to(rooms).emit(event, data);
  };
  const onConversation = (e: ConversationEvent): void => {
    const id = e.conversation.id;
    if (e.type === 'message') {
      // Held or waiting, its holder's consoles joined the room without waiting for the other instances to hear of it
      // (a claim on one instance, the consoles on others): always pushed. The bot's, only where someone looks.
      if (e.conversation.state === 'bot' || deps.localRooms) push(watchRoom(id), 'conversation:message', { conversationId: id, message: e.message });
      else nsp.to(watchRoom(id)).emit('conversation:message', { conversationId: id, message: e.message });
      if (e.conversation.state === 'bot') pushLive(e.conversation, e.message, 'live:message', { conversation: e.conversation, message: livePreview(e.message) }, e.movedFrom);
    } else if (e.type === 'state') {
      push(watchRoom(id), 'conversation:state', { conversation: e.conversation });
      pushLive(e.conversation, null, 'live:state', { conversation: e.conversation });
    }
  };

  // Queue snapshots are per agent (groups differ); one round at a time, and one more if the queue moved meanwhile.
  let pushing = false;
  let again = false;
  const pushQueues = async (): Promise<void> => {
    if (pushing) {
      again = true;
      return;
    }
    pushing = true;
    try {
      do {
        again = false;
        const agents = new Map<string, Agent>();
        for (const s of nsp.sockets.values()) agents.set(dataOf(s).agent.id, dataOf(s).agent);
        if (agents.size === 0) continue;
        // To this instance's consoles only: every instance pushes to its own (told by QUEUE_CHANGED), so an agent
        // with consoles on two instances would otherwise get each push twice, possibly out of order.
        for (const [agentId, items] of await handoff.queues([...agents.values()])) nsp.local.to(agentRoom(agentId)).emit('queue', { items });
      } while (again);
    } finally {
      pushing = false;
    }
  };

  const refreshQueues = (): void => {
    pushQueues().catch((err: unknown) => log.error({ err }, 'agent socket: pushing queues failed'));
  };
  // Instances sharing rooms (Redis) tell each other that the queue moved: each pushes fresh snapshots to the consoles
  // connected to it, read from the shared database.
  const QUEUE_CHANGED = 'kefu:queue-changed';
  // Worked out again here (positions for this instance's customers too), then pushed to this instance's consoles.
  const queueChangedElsewhere = (change?: { positions?: unknown }): void => handoff.queueChangedElsewhere({ positions: change?.positions !== false });
  if (!deps.localRooms) nsp.on(QUEUE_CHANGED, queueChangedElsewhere);
  const onHandoff = (e: HandoffEvent): void => {
    if (e.type === 'queue') {
      refreshQueues();
      // Not back to the others when they told this one: each change goes round once.
      if (!deps.localRooms && e.tellOthers) nsp.serverSideEmit(QUEUE_CHANGED, { positions: e.positions });
    } else if (e.type === 'assigned') {
      const room = watchRoom(e.conversation.id);
      if (e.agentId) {
        nsp.in(agentRoom(e.agentId)).socketsJoin(room);
        nsp.to(agentRoom(e.agentId)).emit('conversation:assigned', { conversation: e.conversation, handoff: e.handoff });
      }
      if (e.previousAgentId && e.previousAgentId !== e.agentId) {
        nsp.to(agentRoom(e.previousAgentId)).emit('conversation:released', { conversation: e.conversation, handoff: e.handoff });
        nsp.in(agentRoom(e.previousAgentId)).socketsLeave(room);
      }
    } else if (e.type === 'note') {
      nsp.to(watchRoom(e.note.conversationId)).emit('conversation:note', { conversationId: e.note.conversationId, note: e.note });
    } else if (e.type === 'typing' && e.author === 'customer') {
      nsp.to(watchRoom(e.conversationId)).emit('customer:typing', { conversationId: e.conversationId, typing: e.typing });
    }
  };

  // Sessions that ended: their consoles are told and closed (which takes them off duty at once). An agent signed out
  // with no console of another session still open has left: presence releases their customers now, not after the
  // grace period a dropped connection gets.
  // By the session's room, so that consoles of the session connected to other instances are closed as well (a sign-out
  // or a password change on one instance must not leave a console open on another).
  const endSessions = (hashes: Set<string>, agentIds: Set<string>): void => {
    for (const hash of hashes) {
      nsp.to(sessionRoom(hash)).emit('session:ended', {});
      nsp.in(sessionRoom(hash)).disconnectSockets(true);
    }
    for (const agentId of agentIds) presence.depart(agentId);
  };
  const sweep = setInterval(() => {
    void (async () => {
      const hashes = new Set<string>();
      const agentIds = new Set<string>();
      for (const s of nsp.sockets.values()) {
        if (await accounts.authenticateHash(dataOf(s).tokenHash)) continue;
        hashes.add(dataOf(s).tokenHash);
        agentIds.add(dataOf(s).agent.id);
      }
      endSessions(hashes, agentIds);
    })().catch((err: unknown) => log.error({ err }, 'agent socket: session sweep failed'));
  }, SESSION_SWEEP_MS);
  sweep.unref();

  const unsubscribe = [
    service.subscribe(onConversation),
    handoff.subscribe(onHandoff),
    accounts.onSessionEnded((hash, agentId) => endSessions(new Set([hash]), new Set([agentId]))),
    // To this instance's consoles: every instance applies a status choice to its own presence and tells its own.
    presence.onStatus((agentId, status) => nsp.local.to(agentRoom(agentId)).emit('status', { status })),
  ];
  return () => {
    clearInterval(sweep);
    nsp.off(QUEUE_CHANGED, queueChangedElsewhere);
    for (const u of unsubscribe) u();
  };
}

/**
 * What the live list shows of a message (its preview and the bot's decision), not the router's trace: every console
 * watching the list gets every bot turn, and the trace is most of a message's size.
 */
function livePreview(m: Message): Pick<Message, 'id' | 'conversationId' | 'seq' | 'author' | 'text' | 'createdAt'> & { outcome: { outcome: string; topic: string | null } | null } {
  return {
    id: m.id, conversationId: m.conversationId, seq: m.seq, author: m.author, text: m.text, createdAt: m.createdAt,
    outcome: m.outcome ? { outcome: m.outcome.outcome, topic: m.outcome.topic } : null,
  };
}

// As on /chat: the caller's own mistakes go back as they are; anything else becomes KEFU_INTERNAL with an id to find it by.
function toAckError(err: unknown, event: string, log: Logger): AckError {
  if (isKefuError(err) && (err.status < 500 || err.status === 503)) {
    log.debug({ event, code: err.code }, 'agent socket event refused');
    return { code: err.code, message: err.message };
  }
  const errorId = randomUUID();
  log.error({ err, event, errorId }, 'agent socket event failed');
  const internal = new KefuError('KEFU_INTERNAL', [errorId]);
  return { code: internal.code, message: internal.message };
}
