/** Everyone listening for one kind of event. */
export interface Listeners<A extends unknown[]> {
  /** Adds a listener; returns the function that removes it. */
  add(listener: (...args: A) => void): () => void;
  /** Calls every listener with `args`. */
  emit(...args: A): void;
}

/**
 * A set of listeners. With `onError`, a listener that throws is reported there and the others still run (events a
 * service announces to parts it does not know); without, the throw reaches whoever emitted.
 */
export function createListeners<A extends unknown[]>(onError?: (err: unknown) => void): Listeners<A> {
  const set = new Set<(...args: A) => void>();
  return {
    add(listener) {
      set.add(listener);
      return () => void set.delete(listener);
    },
    emit(...args) {
      for (const l of set) {
        if (!onError) {
          l(...args);
          continue;
        }
        try {
          l(...args);
        } catch (err) {
          onError(err);
        }
      }
    },
  };
}
