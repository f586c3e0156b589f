// Waiting for something, but not for ever: shutdown steps, a connection's next event, a shared limit in Redis.

/** A timer that never keeps the process alive, and its promise. */
function deadline<T>(ms: number, onTimeout: (resolve: (v: T) => void, reject: (e: Error) => void) => void) {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => onTimeout(resolve, reject), ms);
    timer.unref();
  });
  return { promise, clear: () => clearTimeout(timer) };
}

/** True when `p` settles (either way) within `ms`; false when the time runs out first. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  const late = deadline<boolean>(ms, (resolve) => resolve(false));
  try {
    return await Promise.race([p.then(() => true, () => true), late.promise]);
  } finally {
    late.clear();
  }
}

/** `p`'s value, or a rejection naming `what` when it has not come within `ms`. */
export async function valueWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const late = deadline<never>(ms, (_, reject) => reject(new Error(`${what}: no answer within ${ms} ms`)));
  try {
    return await Promise.race([p, late.promise]);
  } finally {
    late.clear();
  }
}
