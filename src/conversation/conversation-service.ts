import type { Author, Channel, Conversation, Message, StoredOutcome } from '../domain/conversation.ts';
import type { Handoff, HandoffPlacement, HandoffRequest } from '../domain/handoff.ts';
import { DEFAULT_GROUP, type Agent } from '../domain/agent.ts';
import type { Locale, Outcome } from '../domain/types.ts';
import type { Store } from '../store/store.ts';
import type { RouteState } from '../router/router.ts';
import type { Logger } from '../log.ts';
import { KefuError, isKefuError, type KefuErrorCode } from '../errors.ts';
import { maskPersonalData } from '../text/mask-personal-data.ts';
import { normalise } from '../text/normalise.ts';
import { createKeyedMutex } from './keyed-mutex.ts';
import { createRouteStateCache, type KnownRouteState } from './route-state-cache.ts';
import { createListeners } from '../listeners.ts';

/** Something that happened in a conversation, for channels and consoles to push live. */
export type ConversationEvent =
  /**
   * `origin` is the channel connection that sent the customer message this event belongs to (the message itself or
   * its reply): that connection has both in its acknowledgement, so a channel need not push them to it again.
   */
  | {
      type: 'message'; conversation: Conversation; message: Message; origin?: string;
      /** On a bot answer that moved the conversation to another group (its topicGroup): the group it left. */
      movedFrom?: string;
    }
  | { type: 'state'; conversation: Conversation }
  | { type: 'turn'; conversation: Conversation; outcome: Outcome; ms: number }
  /** The conversation joined the handoff queue (router handoff or the customer's button); `handoff` is its queue entry. */
  | { type: 'queued'; conversation: Conversation; handoff: Handoff };

/** A message that is not a customer turn to route. */
export interface PostedMessage {
  author: Exclude<Author, 'bot'>;
  text: string;
  /** The sender's own id for the message, which makes a retry idempotent. */
  clientMessageId?: string | null;
  /** The writer of an agent message, whose name the customer is shown. */
  agent?: Pick<Agent, 'id' | 'displayName'> | null;
}

export interface TurnResult {
  conversation: Conversation;
  customer: Message;
  /** The bot's reply; null while a human holds the conversation (the bot stays silent). */
  reply: Message | null;
  /** True when this customer message had been received before (a retry). */
  duplicate: boolean;
}

export interface ConversationService {
  /** Starts a conversation, or resumes the customer's open one on that channel when `resume` is set. */
  start(input: { channel: Channel; customerId: string; customerVerified?: boolean; locale?: Locale; resume?: boolean }): Promise<{ conversation: Conversation; resumed: boolean }>;
  get(id: string): Promise<Conversation>;
  /**
   * True when this process last saw the bot holding the conversation (a guess: another instance or an agent may have
   * changed that since); false when it does not know. For what may be wrong for a moment, like a typing indicator.
   */
  seenWithBot(id: string): boolean;
  /** The conversation and its messages for its customer; KEFU_CONVERSATION_EXPIRED once closed past readableAfterCloseMinutes. */
  history(id: string, afterSeq?: number): Promise<{ conversation: Conversation; messages: Message[] }>;
  /** Stores the customer's message before anything else, then answers it once (idempotent by clientMessageId). */
  handleCustomerMessage(id: string, input: { text: string; clientMessageId?: string | null; origin?: string }): Promise<TurnResult>;
  /** The customer asks for a person (the widget's button): the conversation goes to the queue. */
  requestHuman(id: string): Promise<{ conversation: Conversation; notice: Message | null }>;
  /** The customer switched language: the bot answers in `locale` from the next message on. */
  setLocale(id: string, locale: Locale): Promise<Conversation>;
  rateConversation(id: string, stars: number, comment: string | null): Promise<Conversation>;
  /**
   * Closes a conversation still with the bot and quiet since before `idleSince` (ISO time), with `notice` as a system
   * message; null when it has moved on meanwhile (a message came, a person took it, it was closed).
   */
  closeIdle(id: string, idleSince: string, notice: (locale: Locale) => string): Promise<Conversation | null>;
  rateAnswer(id: string, messageId: string, feedback: 'up' | 'down'): Promise<Message>;
  close(id: string): Promise<Conversation>;
  /**
   * Stores a message that is not a customer turn to route (an agent's reply, a system notice, a message the customer
   * left for a call back) and pushes it to the conversation's channels. The bot does not answer it. With a
   * clientMessageId it is stored once: a retry returns the stored message (`duplicate: true`) and pushes nothing.
   */
  postMessage(id: string, input: PostedMessage): Promise<{ conversation: Conversation; message: Message; duplicate: boolean }>;
  /** Pushes a change of state made outside this service (an agent claimed, transferred, closed) to every channel. */
  announceState(conversation: Conversation): void;
  /**
   * Runs `task` while no customer message of the conversation is being answered (later ones wait for it), so an
   * agent taking over or handing back never races the bot mid-answer. `task` must not call the service's locking
   * methods (handleCustomerMessage, requestHuman, close) for the same conversation.
   */
  exclusive<T>(id: string, task: () => Promise<T>): Promise<T>;
  /** Subscribes to conversation events; returns the unsubscribe function. */
  subscribe(listener: (e: ConversationEvent) => void): () => void;
  /** Resolves when every message being handled is finished (for graceful shutdown). */
  drain(): Promise<void>;
}

/** What a turn needs of a router: an in-process Router, or one on a routing thread (which answers later). */
export interface TurnRouter {
  route(text: string, state: RouteState): Outcome | Promise<Outcome>;
}

export interface ConversationServiceOptions {
  store: Store;
  /** Returns the router in service now; read per message so a newly published model takes effect at once. */
  router: () => TurnRouter;
  log: Logger;
  defaultLocale: Locale;
  handoffNotice?: (locale: Locale) => string;
  /**
   * Decides the queue group and priority of a handoff (app.ts derives them from the topic's pack domain); without it,
   * every handoff waits in the default group at priority 0.
   */
  placeHandoff?: (request: HandoffRequest) => HandoffPlacement | Promise<HandoffPlacement>;
  /**
   * The group a topic's conversations belong to, or null (app.ts: handoff-placement's topicGroups). Stored with each
   * bot answer as its conversation's topicGroup; without it every conversation stays in the default group.
   */
  topicGroup?: (topic: string | null) => string | null;
  /** Conversations whose route state is kept to route a message before it is stored (default 50,000). */
  routeStateCacheSize?: number;
  /** How long a turn waits for its early routing before storing the customer's message first (default 2 s). */
  earlyRouteWaitMs?: number;
  /**
   * How long after it closes the customer's side may still read and rate a conversation (default 60 minutes; null:
   * always). The conversation's token never expires by itself, so this is what ends what a token found later grants.
   */
  readableAfterCloseMinutes?: number | null;
  /** The clock (tests move it). */
  now?: () => number;
}

/** A routing started before the customer's message was stored, on the route state the conversation was last seen in. */
interface EarlyRoute {
  state: KnownRouteState;
  outcome: Promise<Outcome>;
}

const storedOutcome = (o: Outcome): StoredOutcome => ({
  outcome: o.outcome, topic: o.topic, brain: o.brain, confidence: o.confidence, candidates: o.candidates,
  // Masked before normalising, not after: normalising turns wang.ming@example.com into words no mask recognises, and
  // lists of amounts or times (30000、20000) into runs of digits that look like an account number.
  entities: o.entities, needsVerification: o.needsVerification, trace: { ...o.trace, normalised: normalise(maskPersonalData(o.text)) },
});

/**
 * How long a turn waits for its early routing before storing the customer's message without it. Routing takes a
 * millisecond or so, and under a flood its queue a few hundred: this bounds only a router that is stuck.
 */
const EARLY_ROUTE_WAIT_MS = 2_000;

/** `p`'s value, or null when the store refuses it with one of `codes` (the conversation moved on meanwhile). */
const nullIfRefused = <T>(p: Promise<T>, codes: readonly KefuErrorCode[]): Promise<T | null> =>
  p.catch((err: unknown) => {
    if (codes.some((code) => isKefuError(err, code))) return null;
    throw err;
  });

/** Fallbacks in a row once `outcome` is the reply. */
const fallbacksAfter = (outcome: Outcome, before: number): number => (outcome.outcome === 'fallback' ? before + 1 : 0);

const HUMAN_NOTICE: Record<Locale, string> = {
  'zh-TW': '已為您轉接真人客服，請稍候，專員將盡快為您服務。',
  'zh-CN': '已为您转接人工客服，请稍候，专员将尽快为您服务。',
  en: 'You are now in the queue for a human agent. Someone will be with you shortly.',
};

/** The one place a turn happens: load state, store the message, route, apply the outcome, store the reply. */
export function createConversationService(opts: ConversationServiceOptions): ConversationService {
  const { store, log } = opts;
  const mutex = createKeyedMutex();
  const routeStates = createRouteStateCache(opts.routeStateCacheSize ?? 50_000);
  const listeners = createListeners<[e: ConversationEvent]>((err) => log.error({ err }, 'conversation event listener failed'));
  const inFlight = new Set<Promise<unknown>>();
  // Every conversation the service announces is the newest this process has of it: the route state cache follows
  // the announcements (and reads: mustGet, a resume) rather than each path that changes a conversation.
  const emit = (e: ConversationEvent): void => {
    routeStates.remember(e.conversation);
    listeners.emit(e);
  };
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  };
  const mustGet = async (id: string): Promise<Conversation> => {
    const c = await store.getConversation(id);
    if (!c) {
      routeStates.forget(id);
      throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [id]);
    }
    // A conversation read on its own (a resumed page's history) is one a message may follow.
    routeStates.remember(c);
    return c;
  };
  const groupOf = opts.topicGroup ?? (() => null);
  /**
   * A conversation begun before kefu kept its group (topicGroup null) has it worked out from its messages when the bot
   * first answers it, as a handoff would place it, and stored: from then on each answer keeps it, with no read.
   */
  const recordGroup = async (c: Conversation): Promise<Conversation> => {
    const { group } = opts.placeHandoff ? await opts.placeHandoff({ conversation: c, trigger: 'router', topic: null }) : { group: DEFAULT_GROUP };
    return store.updateConversation(c.id, { topicGroup: group });
  };
  const readableMinutes = opts.readableAfterCloseMinutes === undefined ? 60 : opts.readableAfterCloseMinutes;
  const now = opts.now ?? Date.now;
  /** The conversation, for its customer's side: refused once it has been closed longer than readableAfterCloseMinutes. */
  const mustGetForCustomer = async (id: string): Promise<Conversation> => {
    const c = await mustGet(id);
    if (readableMinutes !== null && c.closedAt !== null && now() - Date.parse(c.closedAt) >= readableMinutes * 60_000) {
      throw new KefuError('KEFU_CONVERSATION_EXPIRED', [id, String(readableMinutes)]);
    }
    return c;
  };

  /**
   * Starts routing `text` on the conversation's last known route state before its message is stored, so that the
   * message and the answer can be stored in one write (appendTurn), which keeps the answer only if the stored
   * conversation is still in that state. Null when this process has not seen the conversation with the bot yet.
   */
  function routeEarly(id: string, text: string, clientMessageId: string | null | undefined): EarlyRoute | null {
    const state = routeStates.get(id);
    // A retry of a message already seen is answered from the store: routing it again would be wasted (and a
    // reconnect storm retries thousands at once).
    if (!state || (clientMessageId && routeStates.seenClientMessage(id, clientMessageId))) return null;
    const outcome = Promise.resolve().then(() => opts.router().route(text, state));
    // Unused when the stored conversation disagrees or the message is a retry: its failure is then nobody's.
    outcome.catch(() => undefined);
    return { state, outcome };
  }

  /**
   * The early routing's answer; 'late' when it is not back within EARLY_ROUTE_WAIT_MS, 'failed' when it failed. Then
   * the customer's message is stored first, so that a stuck or failing router never keeps it from being stored.
   */
  async function settledEarly(id: string, early: EarlyRoute): Promise<Outcome | 'late' | 'failed'> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, opts.earlyRouteWaitMs ?? EARLY_ROUTE_WAIT_MS, 'late')));
    try {
      return await Promise.race([early.outcome, late]);
    } catch (err) {
      log.debug({ conversationId: id, err }, 'early routing failed; the message is stored first and routed again');
      return 'failed';
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closed or gone behind this process's back: no early routing for its next messages. Rethrows `err`. */
  function forgetIfGone(id: string, err: unknown): never {
    if (err instanceof KefuError && (err.code === 'KEFU_CONVERSATION_CLOSED' || err.code === 'KEFU_CONVERSATION_NOT_FOUND')) routeStates.forget(id);
    throw err;
  }

  /** Bookkeeping once a customer message is stored (or found stored: `duplicate`). */
  function customerStored(conversation: Conversation, customer: Message, duplicate: boolean, clientMessageId: string | null | undefined): void {
    routeStates.remember(conversation);
    if (clientMessageId) routeStates.noteClientMessage(conversation.id, clientMessageId);
    if (duplicate && customer.author !== 'customer') {
      // Client ids are the sender's own: the customer's clashes with another sender's message.
      throw new KefuError('KEFU_VALIDATION', ['clientMessageId: already used by another message of this conversation']);
    }
  }

  /** A retry: gives back the reply already sent, or answers now if the first attempt died before replying. */
  async function retried(conversation: Conversation, customer: Message, text: string, received: number, origin?: string): Promise<TurnResult> {
    // The same id for another text is a client's bug, not a retry: answering the first text would lose this one unseen.
    if (customer.text !== text) throw new KefuError('KEFU_MESSAGE_ID_REUSED', [customer.clientMessageId ?? '']);
    const existing = await store.findReply(conversation.id, customer.id);
    if (existing || conversation.state !== 'bot') return { conversation, customer, reply: existing, duplicate: true };
    return { ...(await answer(conversation, customer, received, origin)), customer, duplicate: true };
  }

  /** `received`: when the customer's message reached this service (the turn's time runs from there to the stored reply). */
  async function answer(
    conversation: Conversation,
    customer: Message,
    received: number,
    origin?: string,
    early?: EarlyRoute | null,
  ): Promise<{ conversation: Conversation; reply: Message | null }> {
    if (conversation.state !== 'bot') return { conversation, reply: null };
    const usable = early && routeStates.matches(early.state, conversation) ? early : null;
    const outcome = usable
      ? await usable.outcome
      : await opts.router().route(customer.text, { consecutiveFallbacks: conversation.consecutiveFallbacks, locale: conversation.locale });
    // Only while the bot still holds it, checked in the append's transaction: this process's lock does not keep an
    // agent on another instance from taking the conversation while its answer was being worked out.
    const stored = await nullIfRefused(store.appendMessage({
      conversationId: conversation.id, author: 'bot', text: outcome.reply, quickReplies: outcome.options, outcome: storedOutcome(outcome), replyTo: customer.id,
      requireBot: true, topicGroup: groupOf(outcome.topic),
    }), ['KEFU_CONVERSATION_STATE']);
    if (!stored) return { conversation: await mustGet(conversation.id), reply: null };
    const reply = stored.message;
    const afterReply = stored.conversation.topicGroup === null ? await recordGroup(stored.conversation) : stored.conversation;
    const patch = { consecutiveFallbacks: fallbacksAfter(outcome, conversation.consecutiveFallbacks) };
    // A handoff joins the queue: state, queue entry and the reset fallback counter change together, so a restart
    // can never find a conversation waiting for a person that no agent's queue shows. An agent who took it in the
    // meantime has it already, and a closed one needs nobody: nothing to queue.
    // Taken by an agent, or closed, since the reply was stored: the reply stands and is announced, with no queue.
    const queued = outcome.outcome === 'handoff'
      ? await nullIfRefused(enqueue(conversation, 'router', outcome.topic), ['KEFU_CONVERSATION_STATE', 'KEFU_ALREADY_CLAIMED', 'KEFU_CONVERSATION_CLOSED'])
      : null;
    if (outcome.outcome === 'handoff' && !queued) {
      const current = await mustGet(conversation.id);
      answered(conversation, current, reply, outcome, received, origin, stored.movedFrom);
      return { conversation: current, reply };
    }
    // Most turns change nothing here (an answer after an answer): appending the reply already moved updatedAt and
    // handed back the conversation, so no third write (nor a read) per turn (measured by bench:chat).
    const unchanged = patch.consecutiveFallbacks === conversation.consecutiveFallbacks;
    const updated = queued ? queued.conversation : unchanged ? afterReply : await store.updateConversation(conversation.id, patch);
    answered(conversation, updated, reply, outcome, received, origin, stored.movedFrom);
    if (queued) emit({ type: 'queued', conversation: updated, handoff: queued.handoff });
    return { conversation: updated, reply };
  }

  /** A bot reply is stored: logs the turn and tells channels and consoles. */
  function answered(before: Conversation, updated: Conversation, reply: Message, outcome: Outcome, received: number, origin?: string, movedFrom?: string): void {
    const ms = performance.now() - received;
    log.info({ conversationId: updated.id, outcome: outcome.outcome, topic: outcome.topic, brain: outcome.brain, confidence: outcome.confidence, ms: Math.round(ms * 100) / 100 }, 'bot turn');
    emit({ type: 'message', conversation: updated, message: reply, origin, ...(movedFrom ? { movedFrom } : {}) });
    emit({ type: 'turn', conversation: updated, outcome, ms });
    if (updated.state !== before.state) emit({ type: 'state', conversation: updated });
  }

  async function enqueue(conversation: Conversation, trigger: 'router' | 'button', topic: string | null) {
    const placement = opts.placeHandoff ? await opts.placeHandoff({ conversation, trigger, topic }) : { group: DEFAULT_GROUP, priority: 0 };
    return store.enqueueHandoff({ conversationId: conversation.id, kind: 'chat', trigger, topic, ...placement });
  }

  return {
    async start({ channel, customerId, customerVerified, locale, resume }) {
      if (resume) {
        const open = await store.findOpenConversation(channel, customerId);
        // A customer the bank vouches for does not continue a conversation someone merely claiming their id began.
        if (open && (!customerVerified || open.customerVerified)) {
          routeStates.remember(open);
          return { conversation: open, resumed: true };
        }
      }
      const conversation = await store.createConversation({ channel, customerId, customerVerified, locale: locale ?? opts.defaultLocale });
      log.info({ conversationId: conversation.id, channel }, 'conversation started');
      emit({ type: 'state', conversation });
      return { conversation, resumed: false };
    },
    get: mustGet,
    seenWithBot: (id) => routeStates.get(id) !== undefined,
    async history(id, afterSeq) {
      const conversation = await mustGetForCustomer(id);
      return { conversation, messages: await store.listMessages(id, { afterSeq }) };
    },
    handleCustomerMessage(id, { text, clientMessageId, origin }) {
      const received = performance.now();
      const receivedAt = new Date(now()).toISOString();
      return track(
        mutex.run(id, async () => {
          const early = routeEarly(id, text, clientMessageId);
          // An early answer (not a handoff, which joins the queue as well) is stored with the customer's message in one
          // write: one round trip to the store's thread per turn instead of two, and one update of the conversation.
          const settled = early ? await settledEarly(id, early) : 'failed';
          const earlyOutcome = typeof settled === 'object' ? settled : null;
          if (early && earlyOutcome && earlyOutcome.outcome !== 'handoff') {
            const turn = await store
              .appendTurn({
                conversationId: id, customer: { text, clientMessageId: clientMessageId ?? null, receivedAt },
                reply: { text: earlyOutcome.reply, quickReplies: earlyOutcome.options, outcome: storedOutcome(earlyOutcome), topicGroup: groupOf(earlyOutcome.topic) },
                routedOn: early.state, consecutiveFallbacks: fallbacksAfter(earlyOutcome, early.state.consecutiveFallbacks),
              })
              .catch((err: unknown) => forgetIfGone(id, err));
            customerStored(turn.conversation, turn.customer, turn.duplicate, clientMessageId);
            if (turn.duplicate) return retried(turn.conversation, turn.customer, text, received, origin);
            const conversation = turn.reply && turn.conversation.topicGroup === null ? await recordGroup(turn.conversation) : turn.conversation;
            // The customer's message as it left the conversation: the reply's fallback count comes with the reply.
            const beforeReply = turn.reply ? { ...conversation, consecutiveFallbacks: early.state.consecutiveFallbacks } : conversation;
            emit({ type: 'message', conversation: beforeReply, message: turn.customer, origin });
            if (turn.reply) {
              answered(conversation, conversation, turn.reply, earlyOutcome, received, origin, turn.movedFrom);
              return { conversation, customer: turn.customer, reply: turn.reply, duplicate: false };
            }
            // Stored alone: the conversation is not as it was last seen here (another instance, an agent, a restart).
            return { ...(await answer(turn.conversation, turn.customer, received, origin)), customer: turn.customer, duplicate: false };
          }

          // The customer's message first, then the answer: the closed check is the append's own, in its transaction.
          const { message: customer, duplicate, conversation } = await store
            .appendMessage({ conversationId: id, author: 'customer', text, clientMessageId: clientMessageId ?? null, requireOpen: true })
            .catch((err: unknown) => forgetIfGone(id, err));
          customerStored(conversation, customer, duplicate, clientMessageId);
          if (duplicate) return retried(conversation, customer, text, received, origin);
          emit({ type: 'message', conversation, message: customer, origin });
          // An early handoff (or a late answer, waited for now) is used if the conversation is as it was routed on; a
          // failed early routing is done again.
          const r = await answer(conversation, customer, received, origin, settled === 'failed' ? null : early);
          return { ...r, customer, duplicate };
        }),
      );
    },
    requestHuman(id) {
      return track(
        mutex.run(id, async () => {
          const conversation = await mustGet(id);
          if (conversation.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [id]);
          if (conversation.state !== 'bot') return { conversation, notice: null };
          const text = (opts.handoffNotice ?? ((l: Locale) => HUMAN_NOTICE[l]))(conversation.locale);
          const { message: notice } = await store.appendMessage({ conversationId: id, author: 'system', text });
          const { conversation: updated, handoff } = await enqueue(conversation, 'button', null);
          log.info({ conversationId: id, group: handoff.group }, 'customer asked for a human');
          emit({ type: 'message', conversation: updated, message: notice });
          emit({ type: 'state', conversation: updated });
          emit({ type: 'queued', conversation: updated, handoff });
          return { conversation: updated, notice };
        }),
      );
    },
    setLocale(id, locale) {
      // Under the conversation's lock: a message being answered finishes in the language it was asked in.
      return track(
        mutex.run(id, async () => {
          const conversation = await mustGet(id);
          if (conversation.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [id]);
          if (conversation.locale === locale) return conversation;
          const updated = await store.updateConversation(id, { locale });
          emit({ type: 'state', conversation: updated });
          return updated;
        }),
      );
    },
    closeIdle(id, idleSince, notice) {
      // Under the conversation's lock, and closed by a write conditional on the conversation being quiet still: a
      // customer writing just now (here, or through another instance) keeps it, and of several instances sweeping at
      // once only one closes it and leaves the notice.
      return track(
        mutex.run(id, async () => {
          const closed = await store.closeIdleConversation(id, idleSince);
          if (!closed) return null;
          const { message, conversation } = await store.appendMessage({ conversationId: id, author: 'system', text: notice(closed.locale) });
          log.info({ conversationId: id }, 'idle conversation closed');
          emit({ type: 'message', conversation, message });
          emit({ type: 'state', conversation });
          return conversation;
        }),
      );
    },
    async rateConversation(id, stars, comment) {
      await mustGetForCustomer(id);
      return store.rateConversation(id, stars, comment);
    },
    async rateAnswer(id, messageId, feedback) {
      await mustGetForCustomer(id);
      const m = await store.getMessage(messageId);
      if (!m || m.conversationId !== id) throw new KefuError('KEFU_MESSAGE_NOT_FOUND', [messageId]);
      if (m.author !== 'bot') throw new KefuError('KEFU_NOT_A_BOT_MESSAGE', [messageId]);
      return store.setFeedback(messageId, feedback);
    },
    close(id) {
      return track(
        mutex.run(id, async () => {
          await mustGet(id);
          const c = await store.updateConversation(id, { state: 'closed' });
          emit({ type: 'state', conversation: c });
          return c;
        }),
      );
    },
    async postMessage(id, { author, text, clientMessageId, agent }) {
      const conversation = await mustGet(id);
      if (conversation.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [id]);
      const { message, duplicate } = await store.appendMessage({ conversationId: id, author, text, clientMessageId: clientMessageId ?? null, agent: agent ?? null });
      if (duplicate) {
        // Client ids are the sender's own: the same id from someone else is a clash to refuse, not a retry to answer.
        if (message.author !== author || message.agentId !== (agent?.id ?? null)) {
          throw new KefuError('KEFU_VALIDATION', ['clientMessageId: already used by another message of this conversation']);
        }
        return { conversation, message, duplicate };
      }
      emit({ type: 'message', conversation, message });
      return { conversation, message, duplicate };
    },
    announceState(conversation) {
      emit({ type: 'state', conversation });
    },
    exclusive(id, task) {
      return track(mutex.run(id, task));
    },
    subscribe: listeners.add,
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
