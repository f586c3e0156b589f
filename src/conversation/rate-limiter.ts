/** The limiter's answer for one request. */
export interface RateDecision {
  allowed: boolean;
  /** Whole requests still allowed right now. */
  remaining: number;
  /** When refused: seconds until one more request is allowed (at least 1); 0 when allowed. */
  retryAfterSeconds: number;
}

/** An allowance per key, in this process or shared by several instances (src/http/shared-rate-limiter.ts). */
export interface RateLimiter {
  /** Takes one request from `key`'s allowance (a conversation id, say); refused requests take nothing. */
  take(key: string): RateDecision | Promise<RateDecision>;
}

/** The in-process limiter: it answers at once. */
export interface LocalRateLimiter extends RateLimiter {
  take(key: string): RateDecision;
  /** Keys currently tracked (for tests and metrics). */
  readonly size: number;
}

export interface RateLimiterOptions {
  /** Requests allowed per minute for one key; a burst of this many is allowed at once. */
  perMinute: number;
  now?: () => number;
}

/**
 * The answer for a take from a token bucket (`perMs` tokens refill a millisecond), given whether it was allowed and
 * the tokens left after it: here and for the buckets several instances keep in Redis.
 */
export function bucketDecision(allowed: boolean, tokensLeft: number, perMs: number): RateDecision {
  return allowed
    ? { allowed, remaining: Math.floor(tokensLeft), retryAfterSeconds: 0 }
    : { allowed, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokensLeft) / perMs / 1000)) };
}

// Sweep forgotten keys every so many calls rather than on a timer, so the limiter holds no handle that keeps the
// process alive and costs nothing when idle.
const SWEEP_EVERY = 1000;

/**
 * An in-process token bucket per key: `perMinute` requests at once, refilled evenly over a minute. Shared by the
 * REST API and the socket channel so a customer cannot double the allowance by switching transport. One process;
 * several instances share theirs through Redis (src/http/shared-rate-limiter.ts), with this one as its fallback.
 */
export function createRateLimiter(opts: RateLimiterOptions): LocalRateLimiter {
  const capacity = opts.perMinute;
  const perMs = opts.perMinute / 60_000;
  const now = opts.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let calls = 0;

  const level = (b: { tokens: number; at: number }, t: number): number => Math.min(capacity, b.tokens + (t - b.at) * perMs);

  return {
    take(key) {
      const t = now();
      if (++calls % SWEEP_EVERY === 0) {
        // A bucket that has refilled is the same as no bucket, so it can go.
        for (const [k, b] of buckets) if (level(b, t) >= capacity) buckets.delete(k);
      }
      let b = buckets.get(key);
      if (!b) buckets.set(key, (b = { tokens: capacity, at: t }));
      const tokens = level(b, t);
      // Updated in place: every socket event and customer message takes from one or two buckets, and a new object per
      // take, kept in the map until the next one, is what the main thread's scavenges copy and promote.
      b.at = t;
      const allowed = tokens >= 1;
      b.tokens = allowed ? tokens - 1 : tokens;
      return bucketDecision(allowed, b.tokens, perMs);
    },
    get size() {
      return buckets.size;
    },
  };
}
