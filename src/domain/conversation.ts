import type { Locale, Outcome, Trace } from './types.ts';

/** Who holds the conversation: the bot, the queue, a human agent, or nobody any more. */
export type ConversationState = 'bot' | 'queued' | 'agent' | 'closed';
export const CONVERSATION_STATES: readonly ConversationState[] = ['bot', 'queued', 'agent', 'closed'];

/** The platform a conversation came in on. */
export type Channel = 'web' | 'api' | 'line' | 'botframework';

export type Author = 'customer' | 'bot' | 'agent' | 'system';

export interface QuickReply {
  topic: string;
  title: string;
}

export interface Rating {
  stars: number;
  comment: string | null;
  at: string;
}

/** The one conversation model every channel shares. */
export interface Conversation {
  id: string;
  channel: Channel;
  /** The channel's stable id for the customer (a browser id, a LINE user id …); never personal data in clear. */
  customerId: string;
  /**
   * True when the bank vouched for customerId (a signed identity token, from its logged-in site); false when the
   * client chose it, which anyone can do: only a vouched-for id shows agents the customer's verified profile.
   */
  customerVerified: boolean;
  state: ConversationState;
  locale: Locale;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  /** Fallbacks in a row, which the router turns into a handoff past the configured limit. */
  consecutiveFallbacks: number;
  rating: Rating | null;
  /** The agent holding the conversation while its state is 'agent' (null otherwise), from its claimed handoff episode. */
  agentId: string | null;
  /** That agent's display name, shown to the customer ("專員 小美 為您服務"). */
  agentName: string | null;
  /**
   * The group its answers place it in: that of the latest bot answer whose topic has a group (its pack domain),
   * DEFAULT_GROUP until one has. Kept with the conversation, not worked out by each process from what it happened to
   * see, so that every instance (and one just restarted) shows it on the same group's live list. Null for a
   * conversation begun before kefu kept it: its messages say (see handoff-placement).
   */
  topicGroup: string | null;
}

/** The router's decision as stored with a bot turn. */
export interface StoredOutcome {
  outcome: Outcome['outcome'];
  topic: string | null;
  brain: Outcome['brain'];
  confidence: number;
  candidates: Outcome['candidates'];
  entities: Outcome['entities'];
  needsVerification: boolean;
  trace: Trace;
}

export interface Message {
  id: string;
  conversationId: string;
  /** Position in the conversation, from 1. */
  seq: number;
  author: Author;
  text: string;
  quickReplies: QuickReply[];
  /** The router's decision, on bot turns only. */
  outcome: StoredOutcome | null;
  /** The client's own id for a customer or agent message, which makes a retry idempotent. */
  clientMessageId: string | null;
  /** The customer message a bot reply answers. */
  replyTo: string | null;
  feedback: 'up' | 'down' | null;
  /** On agent messages: who wrote it. */
  agentId: string | null;
  /** On agent messages: the writer's display name as the customer was shown it (王小明：…). */
  agentName: string | null;
  createdAt: string;
}
