import type { ThreadError } from '../workers/thread-error.ts';
import type { SqliteSynchronous } from './sqlite-store.ts';

/** What the store's thread opens its database with (its workerData). */
export interface StoreThreadData {
  path: string;
  externalCheckpoints?: { walState: Int32Array; restartFrames: number };
  synchronous: SqliteSynchronous;
}

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

/** Set on a result whose bot message's outcome was left out because the caller sent it (it is put back). */
export const OUTCOME_ECHO_OMITTED = 'outcomeEchoOmitted';

/**
 * The store methods whose result hands back the outcome its caller sent with a bot message: where that outcome is
 * in the call's first argument, and which field of the result holds the message carrying it.
 */
export const ECHOED_OUTCOMES: Readonly<Record<string, { sent: (input: unknown) => unknown; field: 'message' | 'reply' }>> = {
  appendMessage: { sent: (input) => (input as { outcome?: unknown } | null)?.outcome, field: 'message' },
  appendTurn: { sent: (input) => (input as { reply?: { outcome?: unknown } } | null)?.reply?.outcome, field: 'reply' },
};
