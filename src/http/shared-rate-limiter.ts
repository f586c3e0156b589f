import type { Logger } from '../log.ts';
import type { LocalRateLimiter, RateDecision, RateLimiter } from '../conversation/rate-limiter.ts';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { SocketCluster } from './socket-cluster.ts';

export interface SharedRateLimiterOptions {
  /** Names the allowance in Redis (messages, starts …): keys of different limits never meet. */
  name: string;
  perMinute: number;
  cluster: Pick<SocketCluster, 'takeToken' | 'ready'>;
  /** Decides while Redis cannot: each instance then counts its own, as with one instance. */
  fallback: LocalRateLimiter;
  log: Logger;
}

/**
 * The same token bucket as createRateLimiter, kept in Redis, so that several instances share one allowance per key:
 * a flood spread over the instances by a load balancer is refused as it would be by one. While Redis is down the
 * instance falls back to its own buckets rather than refusing everyone or nobody.
 */
export function createSharedRateLimiter(opts: SharedRateLimiterOptions): RateLimiter {
  const perMs = opts.perMinute / 60_000;
  let warned = false;
  return {
    async take(key): Promise<RateDecision> {
      if (!opts.cluster.ready()) return opts.fallback.take(key);
      try {
        const { allowed, tokens } = await opts.cluster.takeToken(`${opts.name}#${key}`, opts.perMinute, perMs);
        warned = false;
        return allowed
          ? { allowed, remaining: Math.floor(tokens), retryAfterSeconds: 0 }
          : { allowed, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
      } catch (err) {
        if (!warned) opts.log.warn({ err, limit: opts.name }, 'shared rate limit unavailable; this instance counts alone until Redis answers');
        warned = true;
        return opts.fallback.take(key);
      }
    },
  };
}

/**
 * A store for @fastify/rate-limit (the REST API's per-address limit) in Redis, so that the instances count each
 * address together; while Redis cannot answer, each instance counts in a window of its own.
 */
export function sharedRateLimitStore(cluster: Pick<SocketCluster, 'countInWindow' | 'ready'>, name: string): FastifyRateLimitStoreCtor {
  const local = new Map<string, { count: number; resetAt: number }>();
  const countLocally = (key: string, windowMs: number): { current: number; ttl: number } => {
    const t = Date.now();
    if (local.size > 100_000) for (const [k, w] of local) if (w.resetAt <= t) local.delete(k);
    let w = local.get(key);
    if (!w || w.resetAt <= t) local.set(key, (w = { count: 0, resetAt: t + windowMs }));
    w.count++;
    return { current: w.count, ttl: w.resetAt - t };
  };
  class SharedStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      if (!cluster.ready()) return callback(null, countLocally(key, timeWindow));
      cluster.countInWindow(`${name}#${key}`, timeWindow).then(
        (r) => callback(null, r),
        () => callback(null, countLocally(key, timeWindow)),
      );
    }
    child(): FastifyRateLimitStore {
      return this;
    }
  }
  return SharedStore;
}
