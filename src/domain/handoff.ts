import type { Channel, Conversation } from './conversation.ts';

/** A live customer waiting in the chat, or a message left for a call back while no agent was on duty. */
export type HandoffKind = 'chat' | 'callback';

/**
 * What put the conversation in a person's hands: the router (human.agent, complaint.file, fraud.report, fallbacks
 * in a row), the widget's 轉真人客服 button, an agent pulling it from the live list, a transfer from another agent,
 * a message left for a call back, or its agent leaving (release: back to the front of the queue).
 */
export type HandoffTrigger = 'router' | 'button' | 'pull' | 'transfer' | 'callback' | 'release';

/** queued: waiting for an agent; claimed: an agent holds it; ended: over (see endReason). */
export type HandoffStatus = 'queued' | 'claimed' | 'ended';

/**
 * closed by the agent (with a disposition), returned to the bot, transferred (a new handoff follows), ended by the
 * customer, or released because the agent signed out or went offline (a new queued handoff follows).
 */
export type HandoffEndReason = 'closed' | 'returned' | 'transferred' | 'customer_ended' | 'released';

/** How an agent closed a conversation, for the analytics to come. */
export const DISPOSITIONS = ['resolved', 'callback', 'spam', 'no_response', 'transferred_out', 'duplicate', 'other'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

/** What a customer left for a call back. */
export interface CallbackRequest {
  text: string;
  /** When the customer prefers to be called, in their words ("平日晚上七點後"); null when not given. */
  contactTime: string | null;
}

/**
 * One handoff episode: a conversation from entering the queue (or being pulled) until an agent closes it, returns
 * it to the bot or transfers it (which starts the next episode). It is the queue entry and the timer record at once.
 */
export interface Handoff {
  id: string;
  conversationId: string;
  kind: HandoffKind;
  trigger: HandoffTrigger;
  /** The topic that asked for a person (fraud.report …); null for fallbacks in a row, the button or a pull. */
  topic: string | null;
  /** The queue group (skill) that serves it: a pack domain (bank, life) or the default group. */
  group: string;
  /** Higher first; within one priority, the longest waiting first. */
  priority: number;
  /** Set by a transfer to one agent: only that agent sees it in the queue. */
  targetAgentId: string | null;
  status: HandoffStatus;
  /** The agent holding (or who held) it. */
  agentId: string | null;
  queuedAt: string;
  claimedAt: string | null;
  firstReplyAt: string | null;
  endedAt: string | null;
  endReason: HandoffEndReason | null;
  disposition: Disposition | null;
  /** The agent who ended it; null when the customer did. */
  endedBy: string | null;
  callback: CallbackRequest | null;
  /** The episode this one was transferred from. */
  previousId: string | null;
}

/** What the queue and the analytics measure of one episode, in seconds; null until the moment has come. */
export interface HandoffTimers {
  /** Queued until claimed (so far, while still queued). */
  waitSeconds: number | null;
  /** Queued until the agent's first message: what the customer experiences as "time to first reply". */
  firstReplySeconds: number | null;
  /** Claimed until ended (so far, while still held). */
  handlingSeconds: number | null;
}

const seconds = (from: string, to: string): number => Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));

/** The episode's timers at `now`. */
export function handoffTimers(h: Handoff, now: Date = new Date()): HandoffTimers {
  const at = now.toISOString();
  return {
    waitSeconds: h.claimedAt ? seconds(h.queuedAt, h.claimedAt) : h.status === 'queued' ? seconds(h.queuedAt, at) : null,
    firstReplySeconds: h.firstReplyAt ? seconds(h.queuedAt, h.firstReplyAt) : null,
    handlingSeconds: h.claimedAt ? seconds(h.claimedAt, h.endedAt ?? at) : null,
  };
}

/** What the conversation service asks when it hands a conversation over: where should it wait, and how urgently? */
export interface HandoffRequest {
  conversation: Conversation;
  trigger: 'router' | 'button' | 'callback';
  topic: string | null;
}

/** The queue group and priority a handoff gets. */
export interface HandoffPlacement {
  group: string;
  priority: number;
}

/** Where a waiting customer stands, as they are told it. */
export interface QueuePosition {
  conversationId: string;
  kind: HandoffKind;
  group: string;
  /** 1 for the next to be served. */
  position: number;
  /** A rough estimate from recent handling times and the agents on duty; see docs/agent-api.md. */
  expectedWaitSeconds: number;
  /** Agents on duty for this customer's group (or the one agent it was transferred to). */
  agentsOnline: number;
  /** True when nobody is on duty: the customer is offered to leave a message for a call back. */
  callbackOffered: boolean;
}

/** An agent's internal note on a conversation: kept apart from messages, so no customer view can ever show it. */
export interface ConversationNote {
  id: string;
  conversationId: string;
  agentId: string;
  text: string;
  createdAt: string;
}

/** What the bank knows about a customer once they have verified who they are (a stub source for now). */
export interface CustomerProfile {
  channel: Channel;
  customerId: string;
  verified: boolean;
  verifiedAt: string | null;
  /** As the bank shows it to staff, already masked where needed (王○明). */
  displayName: string | null;
  /** Free-form facts for the agent (segment, products, masked phone …). */
  data: Record<string, string>;
  updatedAt: string;
}
