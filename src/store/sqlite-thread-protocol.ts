/** One store method call sent to the store's thread. */
export interface StoreCall {
  id: number;
  method: string;
  args: unknown[];
}

/** A call's value, or its error: a KefuError's JSON, or another error's name, message and code. */
export interface CallResult {
  id: number;
  value?: unknown;
  error?: { kefu?: unknown; message: string; name?: string; code?: string };
}

/** Main thread → store thread: calls made during one turn of the main event loop, in order. */
export type ToStoreThread = { type: 'calls'; calls: StoreCall[] };

/** Store thread → main thread. */
export type FromStoreThread =
  | { type: 'opened'; kind: 'sqlite' | 'postgres'; methods: string[] }
  | { type: 'open-failed'; error: NonNullable<CallResult['error']> }
  | { type: 'results'; results: CallResult[] };
