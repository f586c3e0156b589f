import type { Conversation, Message } from './conversation.ts';

// What a customer channel (REST or socket) shows of kefu's domain. The router's trace, candidates and fallback
// counter stay inside: they are for agents and trainers, and would tell a curious customer how to steer the bot.

// Agents appear to customers by display name only; their account ids stay inside.

export type CustomerConversation = Pick<Conversation, 'id' | 'channel' | 'customerId' | 'state' | 'locale' | 'createdAt' | 'updatedAt' | 'closedAt' | 'rating' | 'agentName'>;

export interface CustomerMessage extends Omit<Message, 'outcome' | 'agentId'> {
  outcome: { outcome: NonNullable<Message['outcome']>['outcome']; topic: string | null; needsVerification: boolean } | null;
}

/** The customer's view of a conversation. */
export function customerConversation(c: Conversation): CustomerConversation {
  return {
    id: c.id, channel: c.channel, customerId: c.customerId, state: c.state, locale: c.locale,
    createdAt: c.createdAt, updatedAt: c.updatedAt, closedAt: c.closedAt, rating: c.rating, agentName: c.agentName,
  };
}

/** The customer's view of a message: the decision's gist, not its trace. */
export function customerMessage(m: Message): CustomerMessage {
  return {
    id: m.id, conversationId: m.conversationId, seq: m.seq, author: m.author, text: m.text, quickReplies: m.quickReplies,
    outcome: m.outcome ? { outcome: m.outcome.outcome, topic: m.outcome.topic, needsVerification: m.outcome.needsVerification } : null,
    clientMessageId: m.clientMessageId, replyTo: m.replyTo, feedback: m.feedback, agentName: m.agentName, createdAt: m.createdAt,
  };
}
