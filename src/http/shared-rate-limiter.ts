import type { Logger } from '../log.ts';
import { bucketDecision, type LocalRateLimiter, type RateDecision, type RateLimiter } from '../conversation/rate-limiter.ts';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { SocketCluster } from './socket-cluster.ts';
import { valueWithin } from '../time-limit.ts';

export interface SharedRateLimiterOptions {
  /** Names the allowance in Redis (messages, starts …): keys of different limits never meet. */
  name: string;
  perMinute: number;
  cluster: Pick<SocketCluster, 'takeToken' | 'canAsk'>;
  /** Decides while Redis cannot: each instance then counts its own, as with one instance. */
  fallback: LocalRateLimiter;
  log: Logger;
  /** How long to wait for Redis (default 200 ms). */
  timeoutMs?: number;
}

/**
 * The same token bucket as createRateLimiter, kept in Redis, so that several instances share one allowance per key:
 * a flood spread over the instances by a load balancer is refused as it would be by one. While Redis is down the
 * instance falls back to its own buckets rather than refusing everyone or nobody.
 */
export function createSharedRateLimiter(opts: SharedRateLimiterOptions): RateLimiter {
  const perMs = opts.perMinute / 60_000;
  const breaker = createBreaker(opts.log, opts.name);
  return {
    async take(key): Promise<RateDecision> {
      if (!opts.cluster.canAsk() || breaker.open()) return opts.fallback.take(key);
      try {
        const { allowed, tokens } = await valueWithin(opts.cluster.takeToken(`${opts.name}#${key}`, opts.perMinute, perMs), opts.timeoutMs ?? REDIS_ANSWER_MS, 'Redis');
        breaker.succeeded();
        return bucketDecision(allowed, tokens, perMs);
      } catch (err) {
        breaker.failed(err);
        return opts.fallback.take(key);
      }
    },
  };
}

/** How long a customer's request waits for Redis's answer to a limit before its instance decides alone. */
const REDIS_ANSWER_MS = 200;
/** After Redis failed to answer, how long the instance decides alone before asking it again. */
const LOCAL_FOR_MS = 5_000;

/**
 * A Redis that does not answer (a network black hole, a stalled server) leaves its connection "ready": without a
 * time limit every customer request would wait for it. After a failure or a timeout, the instance decides alone for
 * a few seconds rather than making each request wait the time limit again; it says so once per outage.
 */
function createBreaker(log: Logger, name: string) {
  let localUntil = 0;
  let warned = false;
  return {
    open: (): boolean => performance.now() < localUntil,
    succeeded(): void {
      if (warned) log.info({ limit: name }, 'shared rate limit answering again');
      warned = false;
    },
    failed(err: unknown): void {
      localUntil = performance.now() + LOCAL_FOR_MS;
      if (!warned) log.warn({ err, limit: name }, 'shared rate limit unavailable; this instance counts alone until Redis answers');
      warned = true;
    },
  };
}

/**
 * A store for @fastify/rate-limit (the REST API's per-address limit) in Redis, so that the instances count each
 * address together; while Redis cannot answer, each instance counts in a window of its own.
 */
export function sharedRateLimitStore(cluster: Pick<SocketCluster, 'countInWindow' | 'canAsk'>, name: string, log: Logger): FastifyRateLimitStoreCtor {
  const breaker = createBreaker(log, name);
  const local = new Map<string, { count: number; resetAt: number }>();
  let sweptAt = 0;
  const countLocally = (key: string, windowMs: number): { current: number; ttl: number } => {
    const t = Date.now();
    // Bounded without a pass per request: at most one sweep a second, and if the addresses are all live (a spray of
    // them during an outage), the counts start again rather than the map growing without end.
    if (local.size > 100_000 && t - sweptAt > 1_000) {
      sweptAt = t;
      for (const [k, w] of local) if (w.resetAt <= t) local.delete(k);
      if (local.size > 100_000) local.clear();
    }
    let w = local.get(key);
    if (!w || w.resetAt <= t) local.set(key, (w = { count: 0, resetAt: t + windowMs }));
    w.count++;
    return { current: w.count, ttl: w.resetAt - t };
  };
  class SharedStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      if (!cluster.canAsk() || breaker.open()) return callback(null, countLocally(key, timeWindow));
      valueWithin(cluster.countInWindow(`${name}#${key}`, timeWindow), REDIS_ANSWER_MS, 'Redis').then(
        (r) => {
          breaker.succeeded();
          callback(null, r);
        },
        (err: unknown) => {
          breaker.failed(err);
          callback(null, countLocally(key, timeWindow));
        },
      );
    }
    child(): FastifyRateLimitStore {
      return this;
    }
  }
  return SharedStore;
}
