import type { Author, Channel, Conversation, ConversationState, Message, QuickReply, StoredOutcome } from '../domain/conversation.ts';
import type { Locale } from '../domain/types.ts';
import type { Agent, AgentRole, AgentSession } from '../domain/agent.ts';
import type {
  CallbackRequest, ConversationNote, CustomerProfile, Disposition, Handoff, HandoffEndReason, HandoffKind, HandoffTrigger,
} from '../domain/handoff.ts';

export interface NewConversation {
  channel: Channel;
  customerId: string;
  locale: Locale;
  /** The bank vouched for customerId (see Conversation.customerVerified); false when absent. */
  customerVerified?: boolean;
}

export interface NewMessage {
  conversationId: string;
  author: Author;
  text: string;
  quickReplies?: QuickReply[];
  outcome?: StoredOutcome | null;
  clientMessageId?: string | null;
  replyTo?: string | null;
  /** The writer of an agent message. */
  agent?: { id: string; displayName: string } | null;
  /**
   * Refuse with KEFU_CONVERSATION_CLOSED when the conversation is closed, checked in the same transaction as the
   * append (a customer's message: checking first and appending after would be two round trips and a race).
   */
  requireOpen?: boolean;
  /**
   * Refuse with KEFU_CONVERSATION_STATE unless the bot still holds the conversation, checked in the same transaction
   * as the append: a bot reply worked out while an agent (on this instance or another) took the conversation over
   * must not follow the agent's greeting.
   */
  requireBot?: boolean;
  /** On a bot answer whose topic has a group: the conversation's topicGroup from now on (absent or null: unchanged). */
  topicGroup?: string | null;
}

/** A customer message and the bot's reply worked out for it, stored in one transaction (Store.appendTurn). */
export interface NewTurn {
  conversationId: string;
  /** `receivedAt`: when the message reached the server (ISO), its stored time when the reply is stored with it. */
  customer: { text: string; clientMessageId?: string | null; receivedAt?: string };
  /** `topicGroup`: as on NewMessage, the group the reply's topic has, if any. */
  reply: { text: string; quickReplies: QuickReply[]; outcome: StoredOutcome; topicGroup?: string | null };
  /** The route state the reply was worked out on: it is stored only if the bot still holds the conversation in it. */
  routedOn: { consecutiveFallbacks: number; locale: Locale };
  /** The conversation's fallbacks in a row once the reply is stored. */
  consecutiveFallbacks: number;
}

/**
 * `topicGroup`: worked out once for a conversation begun before kefu kept it (see Conversation.topicGroup); set only
 * where none is kept, so that an answer another instance stored meanwhile is not overwritten with an older reading.
 */
export type ConversationPatch = Partial<Pick<Conversation, 'state' | 'locale' | 'consecutiveFallbacks'>> & { topicGroup?: string };

export interface NewHandoff {
  conversationId: string;
  kind: HandoffKind;
  trigger: HandoffTrigger;
  topic: string | null;
  group: string;
  priority: number;
  targetAgentId?: string | null;
  callback?: CallbackRequest | null;
}

/** A conversation and its handoff episode as one change left them. */
export interface HandoffChange {
  conversation: Conversation;
  handoff: Handoff;
}

/** Which queue entries to list: those of `groups` (every group when absent) plus those transferred to `agentId`. */
export interface QueueFilter {
  groups?: readonly string[];
  agentId?: string;
}

export interface EndHandoff {
  reason: HandoffEndReason;
  disposition?: Disposition | null;
  /** The agent ending it; null when the customer did. */
  endedBy: string | null;
  /** The state the conversation moves to in the same change (bot on return, closed on close); null leaves it. */
  conversationState: 'bot' | 'closed' | null;
}

/**
 * The handoff queue and its timers. Every change that moves a conversation between the bot, the queue and an agent
 * updates the conversation's state and the episode in one transaction, and is conditional on the state it expects,
 * so two agents can never both hold a conversation and a restart finds the queue as it was.
 */
export interface HandoffStore {
  /**
   * Puts a bot-held conversation in the queue: state 'queued' (fallback counter reset) and a queued episode.
   * Throws KEFU_CONVERSATION_STATE when the bot no longer holds it, KEFU_CONVERSATION_NOT_FOUND.
   */
  enqueueHandoff(input: NewHandoff): Promise<HandoffChange>;
  /** An agent takes a bot-held conversation straight from the live list. Throws KEFU_ALREADY_CLAIMED when the bot no longer holds it. */
  pullConversation(input: NewHandoff & { agentId: string }): Promise<HandoffChange>;
  /** The one winner of a queued episode: state 'agent'. Throws KEFU_ALREADY_CLAIMED when it is no longer queued. */
  claimHandoff(handoffId: string, agentId: string): Promise<HandoffChange>;
  /**
   * Ends a claimed episode as transferred and queues the next one for `group` (or one agent), conversation back to
   * 'queued'. Throws KEFU_CONVERSATION_STATE when the episode is not held (by `fromAgentId`, when given).
   */
  transferHandoff(handoffId: string, input: { fromAgentId: string | null; group: string; targetAgentId: string | null }): Promise<HandoffChange>;
  /**
   * The holder has left (signed out, or gone offline past the grace period): ends their claimed episode as released
   * and queues the next one (trigger 'release', same group, priority, kind and topic, for the group rather than any one
   * agent) keeping the first one's queuedAt, conversation back to 'queued'. It waits at the front of its priority.
   * Throws KEFU_CONVERSATION_STATE unless `agentId` holds the episode.
   */
  releaseHandoff(handoffId: string, input: { agentId: string }): Promise<HandoffChange>;
  /** Ends an open episode, moving the conversation as asked. Throws KEFU_CONVERSATION_STATE when it is already over. */
  endHandoff(handoffId: string, input: EndHandoff): Promise<HandoffChange>;
  /** Records the agent's first message of the episode (later calls keep the first time). */
  markFirstReply(handoffId: string): Promise<Handoff>;
  /** Turns a queued episode into a callback ticket carrying the customer's message. Throws KEFU_CONVERSATION_STATE unless queued. */
  setHandoffCallback(handoffId: string, callback: CallbackRequest): Promise<Handoff>;
  getHandoff(id: string): Promise<Handoff | null>;
  /** The conversation's queued or claimed episode; there is at most one. */
  getOpenHandoff(conversationId: string): Promise<Handoff | null>;
  /** Every episode of a conversation, oldest first. */
  listHandoffs(conversationId: string): Promise<Handoff[]>;
  /** Queued episodes, highest priority first, then live chats before callbacks, then released ones, then the longest waiting. */
  listQueue(filter?: QueueFilter): Promise<Handoff[]>;
  /** Episodes an agent holds now, oldest claim first. */
  listClaimed(agentId: string): Promise<Handoff[]>;
  /** Averages over the group's most recent episodes claimed since `since` (at most `limit` of them). */
  handoffStats(group: string, options: { since: string; limit: number }): Promise<{ samples: number; avgWaitSeconds: number | null; avgHandlingSeconds: number | null }>;

  /**
   * Conversations in `state`, most recently updated first. `groups`: only those whose topicGroup is one of them, or
   * not yet recorded (null: the caller places those), so that a small group's conversations are not crowded out of
   * `limit` by the others'.
   */
  listConversationsByState(state: ConversationState, options?: { updatedAfter?: string; limit?: number; groups?: readonly string[] }): Promise<Conversation[]>;
  /** The last `limit` messages of a conversation, in order. */
  latestMessages(conversationId: string, limit: number): Promise<Message[]>;
  /** The last `limit` messages of each conversation, in order, in one call (a queue's previews); none for unknown ids. */
  latestMessagesOf(conversationIds: readonly string[], limit: number): Promise<Record<string, Message[]>>;
  /** The conversations of those ids that exist, in one call. */
  getConversations(ids: readonly string[]): Promise<Conversation[]>;

  /** Stores an internal note; notes are never messages, so no customer view can include one. */
  addNote(input: { conversationId: string; agentId: string; text: string }): Promise<ConversationNote>;
  listNotes(conversationId: string): Promise<ConversationNote[]>;

  getCustomerProfile(channel: Channel, customerId: string): Promise<CustomerProfile | null>;
  upsertCustomerProfile(profile: Omit<CustomerProfile, 'updatedAt'>): Promise<CustomerProfile>;
}

export interface NewAgent {
  username: string;
  displayName: string;
  role: AgentRole;
  groups: string[];
  passwordHash: string;
}

export type AgentPatch = Partial<Pick<Agent, 'displayName' | 'role' | 'groups' | 'disabled' | 'lastLoginAt'>> & { passwordHash?: string };

/** Console accounts and their sessions. */
export interface AgentStore {
  /** Throws KEFU_AGENT_EXISTS when the username is taken. */
  createAgent(input: NewAgent): Promise<Agent>;
  getAgent(id: string): Promise<Agent | null>;
  findAgentByUsername(username: string): Promise<Agent | null>;
  /** The stored password hash, for the sign-in check only. */
  getPasswordHash(agentId: string): Promise<string | null>;
  listAgents(): Promise<Agent[]>;
  /** Throws KEFU_AGENT_NOT_FOUND. */
  updateAgent(id: string, patch: AgentPatch): Promise<Agent>;

  createSession(session: AgentSession): Promise<AgentSession>;
  getSession(tokenHash: string): Promise<AgentSession | null>;
  /** True when there was such a session. */
  deleteSession(tokenHash: string): Promise<boolean>;
  /** Ends every session of an agent; returns their token hashes. */
  deleteAgentSessions(agentId: string): Promise<string[]>;
  /** Forgets sessions that expired before `now`; returns how many. */
  deleteExpiredSessions(now: string): Promise<number>;
}

/**
 * Everything kefu keeps, behind one async interface so that SQLite (embedded) and PostgreSQL (at scale) are
 * interchangeable; both must pass tests/store/store-contract.ts. Only src/store speaks SQL.
 */
export interface Store extends HandoffStore, AgentStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Now on the clock this store stamps times with (PostgreSQL: the database's, shared by every instance), ms since the epoch. */
  clock(): number;
  /** SQLite: how its commits are synced (config.database.synchronous), read back from the connection that writes. */
  durability?(): Promise<'full' | 'normal'>;
  /** A new conversation, with the bot; its topicGroup is DEFAULT_GROUP until a bot answer's topic names another. */
  createConversation(input: NewConversation): Promise<Conversation>;
  getConversation(id: string): Promise<Conversation | null>;
  /** Applies the patch and bumps updatedAt; closing sets closedAt. Throws KEFU_CONVERSATION_NOT_FOUND. */
  updateConversation(id: string, patch: ConversationPatch): Promise<Conversation>;
  /** Conversations with the bot whose last activity (updatedAt) is before `before`, oldest first, at most `limit`. */
  listIdleConversations(before: string, limit: number): Promise<Conversation[]>;
  /**
   * Closes a conversation that is still with the bot and has been quiet since before `idleSince`, in one conditional
   * write; null when it is not (a message came, a person took it, another instance closed it first).
   */
  closeIdleConversation(id: string, idleSince: string): Promise<Conversation | null>;
  /** Latest open (not closed) conversation of a customer on a channel, to resume it. */
  findOpenConversation(channel: Channel, customerId: string): Promise<Conversation | null>;
  /**
   * Conversations not closed, by state. Open ones only: closed ones are nearly all of them and grow without end, and
   * counting those on every metrics scrape was a pass over millions of index entries on the store's one thread.
   */
  countOpenConversations(): Promise<Record<Exclude<ConversationState, 'closed'>, number>>;

  /**
   * Appends a message with the next seq. A message whose clientMessageId was already stored in the conversation is
   * not stored again: the existing one is returned with `duplicate: true` (whoever wrote it; the caller checks).
   * `conversation` is the conversation as the append left it (its updatedAt moved), so a caller needs no read after
   * writing.
   */
  /** `movedFrom`: the conversation's topicGroup before, when this write (a bot answer's topicGroup) changed it. */
  appendMessage(input: NewMessage): Promise<{ message: Message; duplicate: boolean; conversation: Conversation; movedFrom?: string }>;
  /**
   * A customer turn in one write: appends the customer's message (refused with KEFU_CONVERSATION_CLOSED when the
   * conversation is closed) and, in the same transaction, the bot's reply with the new fallback count, if the bot
   * still holds the conversation in `routedOn`; otherwise `reply` is null and only the customer's message is stored.
   * A customer message already stored under its clientMessageId stores nothing (`duplicate: true`, reply null).
   */
  /** `movedFrom`: as appendMessage's, for the reply's topicGroup. */
  appendTurn(input: NewTurn): Promise<{ customer: Message; duplicate: boolean; reply: Message | null; conversation: Conversation; movedFrom?: string }>;
  getMessage(id: string): Promise<Message | null>;
  /** The message of a conversation stored under a client's message id, if any. */
  findMessageByClientId(conversationId: string, clientMessageId: string): Promise<Message | null>;
  /** The bot (or system) reply to a customer message, if one was stored. */
  findReply(conversationId: string, customerMessageId: string): Promise<Message | null>;
  /** Messages in order; `afterSeq` pages forward. */
  listMessages(conversationId: string, options?: { afterSeq?: number; limit?: number }): Promise<Message[]>;

  rateConversation(id: string, stars: number, comment: string | null): Promise<Conversation>;
  /** Thumbs up/down on a bot message. Throws KEFU_MESSAGE_NOT_FOUND. */
  setFeedback(messageId: string, feedback: 'up' | 'down'): Promise<Message>;

  close(): Promise<void>;
}

/** `{ movedFrom }` when a write changed a conversation's topicGroup from a group it had (see Store.appendMessage). */
export function movedFrom(before: string | null | undefined, after: string | null): { movedFrom?: string } {
  return before && after && before !== after ? { movedFrom: before } : {};
}
