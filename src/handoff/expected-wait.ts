export interface WaitEstimateInput {
  /** 1 for the next customer to be served. */
  position: number;
  /** Agents taking new customers of the group right now. */
  agentsOnline: number;
  /** Mean handling time of the group's recent conversations; null when there are none to measure. */
  avgHandlingSeconds: number | null;
  defaultHandlingSeconds: number;
  /** Conversations one agent serves at once. */
  chatsPerAgent: number;
}

const MIN_PER_CUSTOMER = 30;
const MAX_PER_CUSTOMER = 30 * 60;

/**
 * A customer's expected wait: each customer ahead (and the customer themself) takes one "slot" of the recent mean
 * handling time, shared out over the agents on duty and the chats each serves at once. With nobody on duty it
 * assumes one agent, so the number stays meaningful while the customer is offered a call back. Clamped to 30 s –
 * 30 min per position, because a handful of very short or abandoned conversations must not promise the impossible.
 */
export function expectedWaitSeconds(input: WaitEstimateInput): number {
  const handling = input.avgHandlingSeconds ?? input.defaultHandlingSeconds;
  const slots = Math.max(1, input.agentsOnline) * Math.max(1, input.chatsPerAgent);
  const perCustomer = Math.min(MAX_PER_CUSTOMER, Math.max(MIN_PER_CUSTOMER, handling / slots));
  return Math.round(Math.max(1, input.position) * perCustomer);
}
