import type { Author, Channel, Conversation, ConversationState, Message, QuickReply, StoredOutcome } from '../domain/conversation.ts';
import type { Locale } from '../domain/types.ts';

export interface NewConversation {
  channel: Channel;
  customerId: string;
  locale: Locale;
}

export interface NewMessage {
  conversationId: string;
  author: Author;
  text: string;
  quickReplies?: QuickReply[];
  outcome?: StoredOutcome | null;
  clientMessageId?: string | null;
  replyTo?: string | null;
}

export type ConversationPatch = Partial<Pick<Conversation, 'state' | 'locale' | 'consecutiveFallbacks'>>;

/**
 * Everything kefu keeps, behind one async interface so that SQLite (embedded) and PostgreSQL (at scale) are
 * interchangeable; both must pass tests/store/store-contract.ts. Only src/store speaks SQL.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  createConversation(input: NewConversation): Promise<Conversation>;
  getConversation(id: string): Promise<Conversation | null>;
  /** Applies the patch and bumps updatedAt; closing sets closedAt. Throws KEFU_CONVERSATION_NOT_FOUND. */
  updateConversation(id: string, patch: ConversationPatch): Promise<Conversation>;
  /** Latest open (not closed) conversation of a customer on a channel, to resume it. */
  findOpenConversation(channel: Channel, customerId: string): Promise<Conversation | null>;
  countConversationsByState(): Promise<Record<ConversationState, number>>;

  /**
   * Appends a message with the next seq. A customer message whose clientMessageId was already stored in the
   * conversation is not stored again: the existing one is returned with `duplicate: true`.
   */
  appendMessage(input: NewMessage): Promise<{ message: Message; duplicate: boolean }>;
  getMessage(id: string): Promise<Message | null>;
  /** The bot (or system) reply to a customer message, if one was stored. */
  findReply(conversationId: string, customerMessageId: string): Promise<Message | null>;
  /** Messages in order; `afterSeq` pages forward. */
  listMessages(conversationId: string, options?: { afterSeq?: number; limit?: number }): Promise<Message[]>;

  rateConversation(id: string, stars: number, comment: string | null): Promise<Conversation>;
  /** Thumbs up/down on a bot message. Throws KEFU_MESSAGE_NOT_FOUND. */
  setFeedback(messageId: string, feedback: 'up' | 'down'): Promise<Message>;

  close(): Promise<void>;
}
