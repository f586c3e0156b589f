import type { ThreadError } from '../workers/thread-error.ts';

/** One store method call sent to the store's thread. */
export interface StoreCall {
  id: number;
  method: string;
  args: unknown[];
}

/** A call's value, or its error. */
export type CallResult = { id: number; value: unknown } | { id: number; error: ThreadError };

/** Main thread → store thread: calls made during one turn of the main event loop, in order. */
export type ToStoreThread = { type: 'calls'; calls: StoreCall[] };

/** Store thread → main thread. */
export type FromStoreThread =
  | { type: 'opened'; kind: 'sqlite' | 'postgres'; methods: string[] }
  | { type: 'open-failed'; error: ThreadError }
  | { type: 'results'; results: CallResult[] };

/** Set on an appendMessage result whose message.outcome was left out because the caller sent it (it is put back). */
export const OUTCOME_ECHO_OMITTED = 'outcomeEchoOmitted';
