/** Runs tasks one at a time per key (a conversation), so two messages of one conversation never interleave. */
export function createKeyedMutex() {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, task: () => Promise<T>): Promise<T> {
      const prev = tails.get(key) ?? Promise.resolve();
      const next = prev.then(task, task);
      const tail = next.catch(() => undefined);
      tails.set(key, tail);
      // Forget the key once its queue drains, so the map does not grow with every conversation ever seen.
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return next;
    },
    get size(): number {
      return tails.size;
    },
  };
}
