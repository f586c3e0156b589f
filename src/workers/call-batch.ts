/** Calls to a thread that wait for their answers; those made in one turn of the event loop leave in one message. */
export interface CallBatch<C extends { id: number }, V> {
  /** Queues `call` (its id must be new) and resolves with its answer. */
  add(call: C): Promise<V>;
  /** Settles a call by id with its value or error; an unknown id (already failed) is ignored. */
  settle(id: number, outcome: { value: V } | { error: Error }): void;
  /** Fails every call not yet settled, sent or still queued. */
  failAll(err: Error): void;
  /** Calls waiting for an answer. */
  readonly size: number;
}

/**
 * A message per call cost the main thread as much as the work it handed off (bench:chat), so calls are queued and
 * sent together by setImmediate. A call whose data cannot be copied to the thread (structured clone refuses it)
 * fails alone: the batch is then sent call by call. `onBusy`/`onIdle` tell when the first call starts waiting and
 * the last one is answered (to ref and unref the worker).
 */
export function createCallBatch<C extends { id: number }, V>(
  send: (calls: C[]) => void,
  hooks: { onBusy?(): void; onIdle?(): void } = {},
): CallBatch<C, V> {
  const pending = new Map<number, { resolve(v: V): void; reject(e: Error): void }>();
  let queue: C[] = [];
  let scheduled = false;

  const settle = (id: number, outcome: { value: V } | { error: Error }): void => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (pending.size === 0) hooks.onIdle?.();
    if ('error' in outcome) p.reject(outcome.error);
    else p.resolve(outcome.value);
  };
  const flush = (): void => {
    scheduled = false;
    const calls = queue;
    queue = [];
    if (calls.length === 0) return;
    try {
      send(calls);
    } catch {
      for (const c of calls) {
        try {
          send([c]);
        } catch (err) {
          settle(c.id, { error: err instanceof Error ? err : new Error(String(err)) });
        }
      }
    }
  };

  return {
    add(call) {
      return new Promise<V>((resolve, reject) => {
        if (pending.size === 0) hooks.onBusy?.();
        pending.set(call.id, { resolve, reject });
        queue.push(call);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    settle,
    failAll(err) {
      queue = [];
      for (const id of [...pending.keys()]) settle(id, { error: err });
    },
    get size() {
      return pending.size;
    },
  };
}
