import type { Config } from '../config.ts';
import type { Conversation, Message } from '../domain/conversation.ts';
import { HUMAN_TOPIC, type OutcomeKind } from '../domain/types.ts';
import type { Agent } from '../domain/agent.ts';
import { canServeCustomers, DEFAULT_GROUP, servedGroups, servesGroup } from '../domain/agent.ts';
import type {
  CallbackRequest, ConversationNote, CustomerProfile, Disposition, Handoff, HandoffPlacement, HandoffRequest, HandoffTimers, QueuePosition,
} from '../domain/handoff.ts';
import { handoffTimers } from '../domain/handoff.ts';
import { KefuError, isKefuError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import type { ConversationEvent, ConversationService } from '../conversation/conversation-service.ts';
import type { SuggestedReply, SuggestReplies } from '../router/suggested-replies.ts';
import type { AgentPresence, AgentStatus } from './agent-presence.ts';
import { expectedWaitSeconds } from './expected-wait.ts';
import { handoffNotices } from './handoff-notices.ts';
import { createListeners } from '../listeners.ts';

/** A last customer line, to show in lists. */
export interface Preview {
  text: string;
  createdAt: string;
}

/** A conversation waiting in (or held from) the queue, as an agent's list shows it. */
export interface QueueItem {
  handoff: Handoff;
  conversation: Conversation;
  /** Seconds since it joined the queue. */
  waitingSeconds: number;
  preview: Preview | null;
}

/** A conversation the bot is serving, which an agent may pull. */
export interface LiveConversation {
  conversation: Conversation;
  preview: Preview | null;
  /** The bot's latest decision: what the customer is asking about and how it went. */
  lastOutcome: { outcome: OutcomeKind; topic: string | null } | null;
  messageCount: number;
}

/** A message as agents see it: everything stored, for agent messages who wrote it. */
export type AgentMessage = Message;

/** An agent's message as sent; `duplicate` when it was a retry of one already stored (nothing was sent again). */
export interface SentMessage {
  message: Message;
  duplicate: boolean;
}

export interface AgentNote extends ConversationNote {
  agentName: string;
}

export interface HandoffEpisode extends Handoff {
  timers: HandoffTimers;
  agentName: string | null;
}

/** Everything an agent sees of one conversation. */
export interface ConversationDetail {
  conversation: Conversation;
  messages: AgentMessage[];
  notes: AgentNote[];
  handoffs: HandoffEpisode[];
  customer: { channel: Conversation['channel']; customerId: string; verified: boolean; profile: CustomerProfile | null };
}

export interface HandoffResult {
  conversation: Conversation;
  handoff: Handoff;
}

export interface DirectoryEntry {
  id: string;
  username: string;
  displayName: string;
  role: Agent['role'];
  groups: string[];
  status: AgentStatus | 'offline';
}

/** What the handoff service announces, for the agent console's socket and the customer's channel. */
export type HandoffEvent =
  /**
   * The queue changed (something joined, was claimed, transferred, left): agents' queue lists are stale.
   * `tellOthers`: other instances have not heard of it (it was not them who said so, nor something every instance
   * hears itself, like who is on duty). `positions`: waiting customers' places may have moved (not for a preview).
   */
  | { type: 'queue'; tellOthers: boolean; positions: boolean }
  /** A waiting customer's place or expected wait changed (or nobody is on duty any more). */
  | { type: 'position'; position: QueuePosition }
  /** Who holds a conversation changed: `agentId` took it (null: nobody holds it now; `previousAgentId` did). */
  | { type: 'assigned'; conversation: Conversation; handoff: Handoff; agentId: string | null; previousAgentId: string | null }
  /** An internal note: for agents only. */
  | { type: 'note'; note: AgentNote }
  | { type: 'typing'; conversationId: string; author: 'customer' | 'agent'; typing: boolean };

export interface HandoffService {
  /** The queue an agent works (their groups and transfers to them; every group for an admin), in serving order. */
  queue(agent: Agent): Promise<QueueItem[]>;
  /** The queue as each of `agents` sees it (those who serve customers), from one read of the whole queue. */
  queues(agents: readonly Agent[]): Promise<Map<string, QueueItem[]>>;
  /** Conversations the bot is serving, most recently active first, for an agent to pull. */
  live(agent: Agent): Promise<LiveConversation[]>;
  /** Conversations the agent holds. */
  mine(agent: Agent): Promise<QueueItem[]>;
  detail(agent: Agent, conversationId: string): Promise<ConversationDetail>;
  /** Throws unless `agent` may read the conversation (KEFU_CONVERSATION_FORBIDDEN, KEFU_NOT_CONVERSATION_OWNER, not found). */
  checkAccess(agent: Agent, conversationId: string): Promise<void>;
  /** Takes a conversation: from the queue (claim) or from the bot (pull). Exactly one agent wins; the others get KEFU_ALREADY_CLAIMED. */
  claim(agent: Agent, conversationId: string): Promise<HandoffResult>;
  /**
   * The holder writes to the customer. With a clientMessageId a retry is stored and pushed once: it returns the stored
   * message (duplicate), even when the conversation has moved on since the first attempt went through.
   */
  sendMessage(agent: Agent, conversationId: string, input: { text: string; clientMessageId?: string | null }): Promise<SentMessage>;
  addNote(agent: Agent, conversationId: string, text: string): Promise<AgentNote>;
  transfer(agent: Agent, conversationId: string, to: { group?: string; agentId?: string; note?: string }): Promise<HandoffResult>;
  returnToBot(agent: Agent, conversationId: string): Promise<HandoffResult>;
  close(agent: Agent, conversationId: string, input: { disposition: Disposition; note?: string }): Promise<HandoffResult>;
  /** The FAQ brain's best answers for the customer's latest message. */
  suggestions(agent: Agent, conversationId: string, k: number): Promise<{ message: Message | null; suggestions: SuggestedReply[] }>;
  directory(): Promise<{ agents: DirectoryEntry[]; groups: string[] }>;
  agentTyping(agent: Agent, conversationId: string, typing: boolean): Promise<void>;

  /** The customer leaves a message for a call back: the conversation becomes (or joins the queue as) a callback ticket. */
  leaveCallback(conversationId: string, callback: CallbackRequest): Promise<HandoffResult & { notice: Message }>;
  /** Where a waiting customer stands; null when the conversation is not waiting. */
  position(conversationId: string): Promise<QueuePosition | null>;
  customerTyping(conversationId: string, typing: boolean): void;

  subscribe(listener: (e: HandoffEvent) => void): () => void;
  /**
   * The agent has left (signed out, or no console of theirs came back within handoff.releaseAfterSeconds): every
   * conversation they hold goes back to the front of the queue of its priority, keeping its waiting time, and each
   * customer is told. Called when the presence registry says they departed; does nothing for a conversation whose
   * agent has a console open again by the time its turn comes. Returns how many were released.
   */
  releaseAgent(agentId: string): Promise<number>;
  /**
   * Another instance changed the queue (several instances): queue lists, and positions when `positions`, are worked
   * out again here, for this instance's consoles and customers.
   */
  queueChangedElsewhere(options: { positions: boolean }): void;
  /** Resolves when the work started by events (notices, positions, releases) is done. */
  idle(): Promise<void>;
  /** Stops listening to the conversation service and the presence registry (its departures too). */
  dispose(): void;
}

export interface HandoffServiceOptions {
  store: Store;
  service: ConversationService;
  presence: AgentPresence;
  log: Logger;
  config: Pick<Config, 'handoff' | 'brand'>;
  /** Group and priority for a handoff (also used to file a pulled conversation under a group). */
  placeHandoff: (request: Pick<HandoffRequest, 'conversation' | 'topic'>) => Promise<HandoffPlacement>;
  /** The suggester of the model in service; null while it loads. */
  suggest: () => SuggestReplies | null;
  /** Groups the pack knows of (its domains), for the transfer picker. */
  knownGroups?: () => string[];
  now?: () => Date;
}

const STATS_WINDOW_MS = 24 * 60 * 60 * 1000;
const STATS_SAMPLES = 20;

const requireConsole = (agent: Agent): void => {
  if (!canServeCustomers(agent.role)) throw new KefuError('KEFU_ROLE_FORBIDDEN', [agent.role, 'serve customers']);
};

/** May `agent` see (and claim) this queue entry? */
const canSee = (agent: Agent, h: Handoff): boolean =>
  agent.role === 'admin' || (h.targetAgentId !== null ? h.targetAgentId === agent.id : servesGroup(agent, h.group));

/** The queue, claims and everything an agent does with a conversation, and what the waiting customer is told. */
export function createHandoffService(opts: HandoffServiceOptions): HandoffService {
  const { store, service, presence, log, config } = opts;
  const now = opts.now ?? (() => new Date());
  const listeners = createListeners<[e: HandoffEvent]>((err) => log.error({ err }, 'handoff event listener failed'));
  const emit = (e: HandoffEvent): void => listeners.emit(e);

  // Work started by events runs in the background; idle() lets tests and shutdown wait for it.
  const pending = new Set<Promise<unknown>>();
  const background = (what: string, task: () => Promise<unknown>): void => {
    const p = task().catch((err: unknown) => log.error({ err }, `handoff: ${what} failed`));
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const mustConversation = async (id: string): Promise<Conversation> => {
    const c = await store.getConversation(id);
    if (!c) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [id]);
    return c;
  };
  const knownName = async (agentId: string | null): Promise<string | null> => (agentId ? ((await store.getAgent(agentId))?.displayName ?? null) : null);
  const agentName = async (agentId: string | null): Promise<string> => (await knownName(agentId)) ?? 'another agent';
  // The loser of a claim is told who won: in the message for people, and as facts for the console to act on
  // (a client should never have to parse a name out of a sentence).
  const alreadyClaimed = async (conversationId: string, ownerAgentId: string | null, cause?: unknown): Promise<KefuError> => {
    const ownerName = await knownName(ownerAgentId);
    return new KefuError('KEFU_ALREADY_CLAIMED', [conversationId, ownerName ?? 'another agent'], { cause, facts: { ownerAgentId, ownerName } });
  };
  // The store names the winner by id only.
  const claimLost = (conversationId: string) => async (e: unknown): Promise<never> => {
    if (isKefuError(e, 'KEFU_ALREADY_CLAIMED')) throw await alreadyClaimed(conversationId, (await store.getOpenHandoff(conversationId))?.agentId ?? null, e);
    throw e;
  };
  /**
   * The open episode an agent must hold to act. An admin may transfer, return or close a conversation another agent
   * holds (a supervisor clearing up after someone who went home), but only its holder speaks to the customer.
   */
  const heldBy = async (agent: Agent, conversationId: string, action: string, supervisorMay = true): Promise<{ conversation: Conversation; handoff: Handoff }> => {
    const conversation = await mustConversation(conversationId);
    if (conversation.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [conversationId]);
    const handoff = await store.getOpenHandoff(conversationId);
    if (!handoff || handoff.status !== 'claimed') throw new KefuError('KEFU_CONVERSATION_STATE', [conversationId, conversation.state, `claim it before you ${action}`]);
    if (handoff.agentId !== agent.id && !(supervisorMay && agent.role === 'admin')) {
      throw new KefuError('KEFU_NOT_CONVERSATION_OWNER', [conversationId, `${await agentName(handoff.agentId)} is serving this customer`]);
    }
    return { conversation, handoff };
  };

  const preview = (messages: Message[]): Preview | null => {
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i]!;
      if (m.author === 'customer') return { text: m.text.length > 200 ? `${m.text.slice(0, 200)}…` : m.text, createdAt: m.createdAt };
    }
    return null;
  };
  // Two store calls for the whole list, not two per entry: with a long queue, a refresh per agent per change was
  // thousands of calls, and on PostgreSQL they took every pooled connection from the customers' turns.
  const itemsFor = async (handoffs: Handoff[]): Promise<QueueItem[]> => {
    if (handoffs.length === 0) return [];
    const t = now();
    const ids = handoffs.map((h) => h.conversationId);
    const [conversations, recent] = await Promise.all([store.getConversations(ids), store.latestMessagesOf(ids, 10)]);
    const byId = new Map(conversations.map((c) => [c.id, c]));
    const items: QueueItem[] = [];
    for (const h of handoffs) {
      const conversation = byId.get(h.conversationId);
      if (!conversation) continue;
      const since = h.status === 'queued' ? h.queuedAt : (h.claimedAt ?? h.queuedAt);
      items.push({ handoff: h, conversation, waitingSeconds: Math.max(0, Math.round((t.getTime() - Date.parse(since)) / 1000)), preview: preview(recent[h.conversationId] ?? []) });
    }
    return items;
  };

  // ---- Where waiting customers stand ----------------------------------------------------------------------------

  const laneOf = (h: Handoff): string => (h.targetAgentId ? `agent:${h.targetAgentId}` : `group:${h.group}`);
  const onDuty = (h: Handoff): number => (h.targetAgentId ? (presence.isAvailable(h.targetAgentId) ? 1 : 0) : presence.availableFor(h.group));

  /** Positions of every waiting live chat, from one read of the queue. */
  async function computePositions(): Promise<Map<string, QueuePosition>> {
    const queue = await store.listQueue();
    const t = now();
    const statsByGroup = new Map<string, Promise<{ avgHandlingSeconds: number | null }>>();
    const ahead = new Map<string, number>();
    const out = new Map<string, QueuePosition>();
    for (const h of queue) {
      // Callbacks are not waiting on the line; they come after live chats and do not push anyone back.
      if (h.kind !== 'chat') continue;
      const lane = laneOf(h);
      const position = (ahead.get(lane) ?? 0) + 1;
      ahead.set(lane, position);
      if (!statsByGroup.has(h.group)) {
        statsByGroup.set(h.group, store.handoffStats(h.group, { since: new Date(t.getTime() - STATS_WINDOW_MS).toISOString(), limit: STATS_SAMPLES }));
      }
      const stats = await statsByGroup.get(h.group)!;
      const agentsOnline = onDuty(h);
      out.set(h.conversationId, {
        conversationId: h.conversationId, kind: h.kind, group: h.group, position, agentsOnline, callbackOffered: agentsOnline === 0,
        expectedWaitSeconds: expectedWaitSeconds({
          position, agentsOnline, avgHandlingSeconds: stats.avgHandlingSeconds,
          defaultHandlingSeconds: config.handoff.defaultHandlingSeconds, chatsPerAgent: config.handoff.chatsPerAgent,
        }),
      });
    }
    return out;
  }

  // The last position each waiting customer was told, so a change of nothing sends nothing.
  const told = new Map<string, string>();
  const positionKey = (p: QueuePosition): string => `${p.position}|${p.expectedWaitSeconds}|${p.agentsOnline > 0}`;

  // Queue changes come in bursts (a claim is a change for everyone behind); one recomputation at a time, and one
  // more after it when anything changed meanwhile, so every change is reflected and none is computed twice at once.
  let refreshing: Promise<void> | null = null;
  let dirty = false;
  let untold = false; // among the changes still to reflect, one the other instances have not heard of
  let placesDirty = false; // among them, one that may move waiting customers' places
  /** `tellOthers`: a change only this instance knows of; `positions`: one that may move waiting customers' places. */
  const refresh = ({ tellOthers = true, positions = true }: { tellOthers?: boolean; positions?: boolean } = {}): void => {
    dirty = true;
    if (tellOthers) untold = true;
    if (positions) placesDirty = true;
    if (refreshing) return;
    const run = async (): Promise<void> => {
      while (dirty) {
        dirty = false;
        const tell = untold;
        const places = placesDirty;
        untold = false;
        placesDirty = false;
        if (places) {
          const positions = await computePositions();
          for (const id of told.keys()) if (!positions.has(id)) told.delete(id);
          for (const p of positions.values()) {
            const key = positionKey(p);
            if (told.get(p.conversationId) === key) continue;
            told.set(p.conversationId, key);
            emit({ type: 'position', position: p });
          }
        }
        emit({ type: 'queue', tellOthers: tell, positions: places });
      }
    };
    const p: Promise<void> = run()
      .catch((err: unknown) => log.error({ err }, 'handoff: queue refresh failed'))
      .finally(() => {
        refreshing = null;
        pending.delete(p);
      });
    refreshing = p;
    pending.add(p);
  };

  /** Tells a customer who just joined the queue where they stand, or that nobody is on duty (the callback offer). */
  async function announceQueued(conversation: Conversation, handoff: Handoff, prefix = ''): Promise<void> {
    if (handoff.kind !== 'chat') return;
    const p = (await computePositions()).get(conversation.id);
    if (!p) return; // claimed or gone before we got here
    const text = p.callbackOffered ? handoffNotices.offline(conversation.locale) : handoffNotices.position(conversation.locale, p.position, p.expectedWaitSeconds);
    // Chinese sentences run on; English ones need a space between them.
    const joined = prefix && conversation.locale === 'en' ? `${prefix} ${text}` : prefix + text;
    try {
      await service.postMessage(conversation.id, { author: 'system', text: joined });
    } catch (err) {
      if (!isKefuError(err, 'KEFU_CONVERSATION_CLOSED')) throw err;
    }
    told.set(conversation.id, positionKey(p));
    emit({ type: 'position', position: p });
  }

  // ---- Reacting to the conversation service ----------------------------------------------------------------------

  const onConversationEvent = (e: ConversationEvent): void => {
    if (e.type === 'queued') {
      log.info({ conversationId: e.conversation.id, group: e.handoff.group, priority: e.handoff.priority, trigger: e.handoff.trigger, topic: e.handoff.topic }, 'conversation queued for an agent');
      // Behind the conversation's lock, like a claim: the customer reads their place before "專員 … 已加入", never after.
      background('announcing a queued conversation', () => service.exclusive(e.conversation.id, async () => {
        await announceQueued(e.conversation, e.handoff);
        refresh();
      }));
    } else if (e.type === 'state' && e.conversation.state === 'closed') {
      // The customer ended the conversation: whatever episode was open is over.
      background('ending the handoff of a closed conversation', async () => {
        const open = await store.getOpenHandoff(e.conversation.id);
        if (!open) return;
        try {
          const r = await store.endHandoff(open.id, { reason: 'customer_ended', endedBy: null, conversationState: null });
          if (open.agentId) emit({ type: 'assigned', conversation: r.conversation, handoff: r.handoff, agentId: null, previousAgentId: open.agentId });
        } catch (err) {
          if (!isKefuError(err, 'KEFU_CONVERSATION_STATE')) throw err; // an agent ended it at the same moment
        }
        refresh();
      });
    } else if (e.type === 'message' && e.message.author === 'customer' && e.conversation.state === 'queued') {
      refresh({ positions: false }); // the queue's previews show the customer's latest words
    }
  };
  const unsubscribeService = service.subscribe(onConversationEvent);
  // Every instance hears who is on duty itself: nothing to tell the others.
  const unsubscribePresence = presence.onChange(() => refresh({ tellOthers: false }));
  refresh();

  // ---- Agents who leave ---------------------------------------------------------------------------------------

  async function releaseAgent(agentId: string): Promise<number> {
    let released = 0;
    for (const held of await store.listClaimed(agentId)) {
      const done = await service.exclusive(held.conversationId, async () => {
        // Back within the grace period after all (the release was already under way): they keep the rest.
        if (presence.isConnected(agentId)) return false;
        let r: HandoffResult;
        try {
          r = await store.releaseHandoff(held.id, { agentId });
        } catch (err) {
          // Closed, transferred or returned by someone else meanwhile: nothing left to release.
          if (isKefuError(err, 'KEFU_CONVERSATION_STATE') || isKefuError(err, 'KEFU_CONVERSATION_CLOSED')) return false;
          throw err;
        }
        log.info({ conversationId: r.conversation.id, agentId, group: r.handoff.group, priority: r.handoff.priority }, 'agent left: conversation back in the queue');
        service.announceState(r.conversation);
        emit({ type: 'assigned', conversation: r.conversation, handoff: r.handoff, agentId: null, previousAgentId: agentId });
        const notice = handoffNotices.released(r.conversation.locale);
        if (r.handoff.kind === 'chat') await announceQueued(r.conversation, r.handoff, notice);
        else await service.postMessage(r.conversation.id, { author: 'system', text: notice });
        return true;
      });
      if (done) released++;
    }
    if (released > 0) refresh();
    return released;
  }
  const unsubscribeDeparted = presence.onDeparted((agentId) => background('releasing the conversations of an agent who left', () => releaseAgent(agentId)));

  // After a restart nobody's console is connected yet: those holding conversations get the grace period to come back.
  background('waiting for agents holding conversations to come back', async () => {
    for (const a of await store.listAgents()) {
      if (!presence.isConnected(a.id) && (await store.listClaimed(a.id)).length > 0) presence.awaitReturn(a.id);
    }
  });

  // ---- What agents do ------------------------------------------------------------------------------------------

  async function afterTakeover(agent: Agent, r: HandoffResult, previousAgentId: string | null): Promise<void> {
    await service.postMessage(r.conversation.id, { author: 'system', text: handoffNotices.joined(r.conversation.locale, agent.displayName) });
    service.announceState(r.conversation);
    emit({ type: 'assigned', conversation: r.conversation, handoff: r.handoff, agentId: agent.id, previousAgentId });
    refresh();
  }

  /**
   * The group a conversation belongs to, as far as who may read it goes: the one it waits or is served in (or was last,
   * once closed), or, with the bot, the one a request for a person would place it in.
   */
  async function groupOf(conversation: Conversation): Promise<{ group: string; handoffs: Handoff[] }> {
    const handoffs = conversation.state === 'bot' ? [] : await store.listHandoffs(conversation.id);
    const last = handoffs.at(-1);
    return { group: last ? last.group : (await opts.placeHandoff({ conversation, topic: null })).group, handoffs };
  }
  /**
   * The conversation, if `agent` may read it and act on it: an admin; whoever holds it, held it or was sent it; one who
   * serves its group. Agents of one group (a bank's cards team) do not read another's customers (its insurers').
   */
  async function accessible(agent: Agent, conversationId: string): Promise<Conversation> {
    const conversation = await mustConversation(conversationId);
    if (agent.role === 'admin') return conversation;
    const { group, handoffs } = await groupOf(conversation);
    if (handoffs.some((h) => h.agentId === agent.id || h.targetAgentId === agent.id)) return conversation;
    const open = handoffs.find((h) => h.status !== 'ended');
    if (open?.targetAgentId) throw new KefuError('KEFU_NOT_CONVERSATION_OWNER', [conversationId, `it was transferred to ${await agentName(open.targetAgentId)}`]);
    if (!servesGroup(agent, group)) throw new KefuError('KEFU_CONVERSATION_FORBIDDEN', [conversationId, group]);
    return conversation;
  }

  async function directory(): Promise<Awaited<ReturnType<HandoffService['directory']>>> {
    const online = new Map(presence.list().map((o) => [o.agent.id, o.status]));
    const agents = (await store.listAgents()).filter((a) => !a.disabled && canServeCustomers(a.role));
    const groups = new Set([DEFAULT_GROUP, ...(opts.knownGroups?.() ?? []), ...agents.flatMap((a) => a.groups)]);
    return {
      agents: agents.map((a) => ({ id: a.id, username: a.username, displayName: a.displayName, role: a.role, groups: a.groups, status: online.get(a.id) ?? 'offline' })),
      groups: [...groups].sort(),
    };
  }

  return {
    async queue(agent) {
      requireConsole(agent);
      const groups = servedGroups(agent);
      return itemsFor(await store.listQueue(groups === null ? {} : { groups, agentId: agent.id }));
    },

    async queues(agents) {
      // The whole queue read once, each agent's part cut from it in order (the store's order is one for every filter).
      const all = await itemsFor(await store.listQueue());
      return new Map(agents.filter((a) => canServeCustomers(a.role)).map((a) => [a.id, all.filter((i) => canSee(a, i.handoff))]));
    },

    async live(agent) {
      requireConsole(agent);
      const since = new Date(now().getTime() - config.handoff.liveWindowMinutes * 60_000).toISOString();
      const served = servedGroups(agent);
      // Filtered by group in the query: a small group's conversations are not crowded out of the hundred by others'.
      const conversations = await store.listConversationsByState('bot', { updatedAfter: since, limit: 100, ...(served === null ? {} : { groups: served }) });
      const latest = await store.latestMessagesOf(conversations.map((c) => c.id), 10);
      const out = await Promise.all(conversations.map(async (conversation): Promise<LiveConversation | null> => {
        const recent = latest[conversation.id] ?? [];
        const p = preview(recent);
        if (!p) return null; // only the greeting so far: nothing to help with
        const lastBot = [...recent].reverse().find((m) => m.outcome);
        // Only the conversations of groups this agent serves: the group its answers place it in, as a request for a
        // person would be placed and as the live list's pushes go. It comes with the conversation's row: no read per
        // conversation (only one begun before the group was kept has it looked up in its messages).
        if (served !== null && !served.includes((await opts.placeHandoff({ conversation, topic: null })).group)) return null;
        return {
          conversation, preview: p, messageCount: recent.at(-1)?.seq ?? 0,
          lastOutcome: lastBot?.outcome ? { outcome: lastBot.outcome.outcome, topic: lastBot.outcome.topic } : null,
        };
      }));
      return out.filter((x): x is LiveConversation => x !== null);
    },

    async mine(agent) {
      requireConsole(agent);
      return itemsFor(await store.listClaimed(agent.id));
    },

    async checkAccess(agent, conversationId) {
      requireConsole(agent);
      await accessible(agent, conversationId);
    },

    async detail(agent, conversationId) {
      requireConsole(agent);
      const conversation = await accessible(agent, conversationId);
      const [messages, notes, handoffs, profile, agents] = await Promise.all([
        store.listMessages(conversationId, { limit: 1000 }), store.listNotes(conversationId), store.listHandoffs(conversationId),
        // Anyone can claim a customer id; only one the bank vouched for (its identity token) brings their profile.
        conversation.customerVerified ? store.getCustomerProfile(conversation.channel, conversation.customerId) : Promise.resolve(null),
        store.listAgents(),
      ]);
      const names = new Map(agents.map((a) => [a.id, a.displayName]));
      const t = now();
      return {
        conversation,
        messages,
        notes: notes.map((n) => ({ ...n, agentName: names.get(n.agentId) ?? n.agentId })),
        handoffs: handoffs.map((h) => ({ ...h, timers: handoffTimers(h, t), agentName: h.agentId ? (names.get(h.agentId) ?? null) : null })),
        customer: {
          channel: conversation.channel, customerId: conversation.customerId, verified: profile?.verified ?? false,
          // Only what a verified customer has proven to be theirs is shown.
          profile: profile?.verified ? profile : null,
        },
      };
    },

    async claim(agent, conversationId) {
      requireConsole(agent);
      return service.exclusive(conversationId, async () => {
        const conversation = await mustConversation(conversationId);
        if (conversation.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [conversationId]);
        const open = await store.getOpenHandoff(conversationId);
        if (conversation.state === 'agent' && open) {
          if (open.agentId === agent.id) return { conversation, handoff: open }; // a retry of a claim that won
          throw await alreadyClaimed(conversationId, open.agentId);
        }
        let r: HandoffResult;
        if (conversation.state === 'bot') {
          const placement = await opts.placeHandoff({ conversation, topic: null });
          if (!servesGroup(agent, placement.group)) throw new KefuError('KEFU_GROUP_FORBIDDEN', [conversationId, placement.group]);
          r = await store.pullConversation({ conversationId, kind: 'chat', trigger: 'pull', topic: null, group: placement.group, priority: 0, agentId: agent.id }).catch(claimLost(conversationId));
          log.info({ conversationId, agentId: agent.id, group: r.handoff.group }, 'agent pulled a conversation from the bot');
        } else {
          if (!open) throw new KefuError('KEFU_CONVERSATION_STATE', [conversationId, conversation.state, 'it is not waiting in the queue']);
          if (!canSee(agent, open)) {
            if (open.targetAgentId) throw new KefuError('KEFU_NOT_CONVERSATION_OWNER', [conversationId, `it was transferred to ${await agentName(open.targetAgentId)}`]);
            throw new KefuError('KEFU_GROUP_FORBIDDEN', [conversationId, open.group]);
          }
          r = await store.claimHandoff(open.id, agent.id).catch(claimLost(conversationId));
          log.info({ conversationId, agentId: agent.id, group: open.group, waitSeconds: handoffTimers(r.handoff, now()).waitSeconds }, 'agent claimed a conversation');
        }
        await afterTakeover(agent, r, null);
        return r;
      });
    },

    async sendMessage(agent, conversationId, { text, clientMessageId }) {
      requireConsole(agent);
      if (clientMessageId) {
        // Looked up before the holder check: a retry whose first attempt went through is answered with what was
        // sent, not refused because the conversation was transferred or closed in between.
        const prior = await store.findMessageByClientId(conversationId, clientMessageId);
        if (prior && prior.author === 'agent' && prior.agentId === agent.id) return { message: prior, duplicate: true };
      }
      const { handoff } = await heldBy(agent, conversationId, 'reply', false);
      const { message, duplicate } = await service.postMessage(conversationId, { author: 'agent', text, clientMessageId, agent });
      if (!duplicate && !handoff.firstReplyAt) await store.markFirstReply(handoff.id);
      return { message, duplicate };
    },

    async addNote(agent, conversationId, text) {
      requireConsole(agent);
      await accessible(agent, conversationId);
      const note = { ...(await store.addNote({ conversationId, agentId: agent.id, text })), agentName: agent.displayName };
      emit({ type: 'note', note });
      return note;
    },

    async transfer(agent, conversationId, to) {
      requireConsole(agent);
      if ((to.group === undefined) === (to.agentId === undefined)) throw new KefuError('KEFU_VALIDATION', ['give either group or agentId']);
      // A group nobody works (a typo) would leave the customer waiting in a queue no console shows.
      if (to.group !== undefined && !(await directory()).groups.includes(to.group)) {
        throw new KefuError('KEFU_VALIDATION', [`group: ${to.group} is not a group kefu knows (the pack's domains and the agents' groups)`]);
      }
      let target: Agent | null = null;
      if (to.agentId !== undefined) {
        target = await store.getAgent(to.agentId);
        if (!target || target.disabled || !canServeCustomers(target.role)) throw new KefuError('KEFU_AGENT_NOT_FOUND', [to.agentId]);
      }
      return service.exclusive(conversationId, async () => {
        const { conversation, handoff } = await heldBy(agent, conversationId, 'transfer it');
        if (target && target.id === handoff.agentId) throw new KefuError('KEFU_VALIDATION', ['you already hold this conversation']);
        const r = await store.transferHandoff(handoff.id, { fromAgentId: handoff.agentId, group: to.group ?? handoff.group, targetAgentId: target?.id ?? null });
        if (to.note) emit({ type: 'note', note: { ...(await store.addNote({ conversationId, agentId: agent.id, text: to.note })), agentName: agent.displayName } });
        log.info({ conversationId, from: handoff.agentId, toGroup: r.handoff.group, toAgent: target?.id ?? null }, 'agent transferred a conversation');
        service.announceState(r.conversation);
        emit({ type: 'assigned', conversation: r.conversation, handoff: r.handoff, agentId: null, previousAgentId: handoff.agentId });
        await announceQueued(conversation, r.handoff, handoffNotices.transferred(conversation.locale));
        refresh();
        return r;
      });
    },

    async returnToBot(agent, conversationId) {
      requireConsole(agent);
      return service.exclusive(conversationId, async () => {
        const { conversation, handoff } = await heldBy(agent, conversationId, 'return it to the bot');
        await service.postMessage(conversationId, { author: 'system', text: handoffNotices.returned(conversation.locale, config.brand.bot) });
        const r = await store.endHandoff(handoff.id, { reason: 'returned', endedBy: agent.id, conversationState: 'bot' });
        log.info({ conversationId, agentId: agent.id }, 'agent returned a conversation to the bot');
        service.announceState(r.conversation);
        emit({ type: 'assigned', conversation: r.conversation, handoff: r.handoff, agentId: null, previousAgentId: handoff.agentId });
        refresh();
        return r;
      });
    },

    async close(agent, conversationId, { disposition, note }) {
      requireConsole(agent);
      return service.exclusive(conversationId, async () => {
        const conversation = await mustConversation(conversationId);
        if (conversation.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [conversationId]);
        let handoff = await store.getOpenHandoff(conversationId);
        // A waiting entry (spam, a callback already made by phone) may be closed by anyone who may claim it.
        if (handoff?.status === 'queued') {
          if (!canSee(agent, handoff)) throw new KefuError('KEFU_GROUP_FORBIDDEN', [conversationId, handoff.group]);
        } else {
          handoff = (await heldBy(agent, conversationId, 'close it')).handoff;
        }
        if (note) emit({ type: 'note', note: { ...(await store.addNote({ conversationId, agentId: agent.id, text: note })), agentName: agent.displayName } });
        await service.postMessage(conversationId, { author: 'system', text: handoffNotices.closed(conversation.locale) });
        const r = await store.endHandoff(handoff.id, { reason: 'closed', disposition, endedBy: agent.id, conversationState: 'closed' });
        log.info({ conversationId, agentId: agent.id, disposition, ...handoffTimers(r.handoff, now()) }, 'agent closed a conversation');
        service.announceState(r.conversation);
        emit({ type: 'assigned', conversation: r.conversation, handoff: r.handoff, agentId: null, previousAgentId: handoff.agentId });
        refresh();
        return r;
      });
    },

    async suggestions(agent, conversationId, k) {
      requireConsole(agent);
      const conversation = await accessible(agent, conversationId);
      const suggest = opts.suggest();
      if (!suggest) throw new KefuError('KEFU_NOT_READY', ['the model is still loading, retry shortly']);
      const recent = await store.latestMessages(conversationId, 50);
      // The latest thing the customer needs: not "我要找真人", nor what the bot could not make out (suggestions for
      // those would be about nothing), unless nothing else was said.
      const answers = new Map(recent.filter((m) => m.replyTo !== null).map((m) => [m.replyTo, m.outcome]));
      const saysNothing = (m: Message): boolean => {
        const o = answers.get(m.id);
        return o !== undefined && o !== null && (o.topic === HUMAN_TOPIC || o.outcome === 'fallback');
      };
      const customers = recent.filter((m) => m.author === 'customer').reverse();
      const message = customers.find((m) => !saysNothing(m)) ?? customers[0] ?? null;
      return { message, suggestions: message ? suggest(message.text, k, conversation.locale) : [] };
    },

    directory,

    async agentTyping(agent, conversationId, typing) {
      requireConsole(agent);
      await heldBy(agent, conversationId, 'type to the customer', false);
      emit({ type: 'typing', conversationId, author: 'agent', typing });
    },

    async leaveCallback(conversationId, callback) {
      return service.exclusive(conversationId, async () => {
        const conversation = await mustConversation(conversationId);
        if (conversation.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [conversationId]);
        if (conversation.state === 'agent') throw new KefuError('KEFU_CONVERSATION_STATE', [conversationId, 'agent', 'an agent is already serving you here']);
        // The message is part of the conversation too, so whoever reads it later sees it in place.
        await service.postMessage(conversationId, { author: 'customer', text: callback.text });
        let r: HandoffResult;
        if (conversation.state === 'bot') {
          const placement = await opts.placeHandoff({ conversation, topic: null });
          r = await store.enqueueHandoff({ conversationId, kind: 'callback', trigger: 'callback', topic: null, ...placement, callback });
          service.announceState(r.conversation);
        } else {
          const open = await store.getOpenHandoff(conversationId);
          if (!open || open.status !== 'queued') throw new KefuError('KEFU_CONVERSATION_STATE', [conversationId, conversation.state, 'it is not waiting in the queue']);
          r = { conversation, handoff: await store.setHandoffCallback(open.id, callback) };
        }
        const { message: notice } = await service.postMessage(conversationId, { author: 'system', text: handoffNotices.callback(conversation.locale, callback.contactTime) });
        log.info({ conversationId, group: r.handoff.group }, 'customer left a message for a call back');
        refresh();
        return { ...r, notice };
      });
    },

    async position(conversationId) {
      await mustConversation(conversationId);
      const open = await store.getOpenHandoff(conversationId);
      if (!open || open.status !== 'queued') return null;
      if (open.kind === 'callback') {
        return { conversationId, kind: 'callback', group: open.group, position: 0, expectedWaitSeconds: 0, agentsOnline: onDuty(open), callbackOffered: false };
      }
      return (await computePositions()).get(conversationId) ?? null;
    },

    customerTyping(conversationId, typing) {
      emit({ type: 'typing', conversationId, author: 'customer', typing });
    },

    releaseAgent,

    subscribe: listeners.add,

    queueChangedElsewhere: ({ positions }) => refresh({ tellOthers: false, positions }),
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },

    dispose() {
      unsubscribeService();
      unsubscribePresence();
      unsubscribeDeparted();
    },
  };
}
