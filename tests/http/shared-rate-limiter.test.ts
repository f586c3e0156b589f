import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/conversation/rate-limiter.ts';
import { createSharedRateLimiter, sharedRateLimitStore } from '../../src/http/shared-rate-limiter.ts';
import { capturingLogger } from './test-app.ts';

describe('rate limits shared through Redis', () => {
  it("falls back to this instance's own buckets while Redis is down or failing, and says so once", async () => {
    let ready = false;
    let failing = false;
    const redisBuckets = new Map<string, number>();
    const cluster = {
      canAsk: () => ready,
      takeToken: async (key: string, capacity: number) => {
        if (failing) throw new Error('connection lost');
        const left = redisBuckets.get(key) ?? capacity;
        if (left < 1) return { allowed: false, tokens: left };
        redisBuckets.set(key, left - 1);
        return { allowed: true, tokens: left - 1 };
      },
    };
    const { log, lines } = capturingLogger();
    const limiter = createSharedRateLimiter({ name: 'messages', perMinute: 2, cluster, fallback: createRateLimiter({ perMinute: 2 }), log });
    // Down: local buckets decide (two allowed, then no).
    expect([await limiter.take('c1'), await limiter.take('c1'), await limiter.take('c1')].map((d) => d.allowed)).toEqual([true, true, false]);
    // Up: Redis decides, with its own count under the limit's name.
    ready = true;
    expect((await limiter.take('c2')).allowed).toBe(true);
    expect([...redisBuckets.keys()]).toEqual(['messages#c2']);
    expect((await limiter.take('c2')).allowed).toBe(true);
    const refused = await limiter.take('c2');
    expect(refused).toMatchObject({ allowed: false, remaining: 0 });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // Failing calls: local again, with one warning however many fail.
    failing = true;
    expect((await limiter.take('c3')).allowed).toBe(true);
    await limiter.take('c3');
    expect(lines.filter((l) => l.includes('shared rate limit unavailable'))).toHaveLength(1);
  });

  it('counts REST requests per address in Redis, and in a window of its own while Redis cannot answer', async () => {
    let ready = true;
    const cluster = {
      canAsk: () => ready,
      countInWindow: async (key: string) => ({ current: key === 'rest#1.2.3.4' ? 42 : 1, ttl: 30_000 }),
    };
    const Store = sharedRateLimitStore(cluster, 'rest', capturingLogger().log);
    const store = new Store({});
    const incr = (key: string) => new Promise<{ current: number; ttl: number } | undefined>((resolve) => store.incr(key, (_e, r) => resolve(r), 60_000, 10));
    expect(await incr('1.2.3.4')).toEqual({ current: 42, ttl: 30_000 });
    ready = false;
    expect((await incr('1.2.3.4'))?.current).toBe(1);
    expect((await incr('1.2.3.4'))?.current).toBe(2);
  });

  it('decides alone when Redis does not answer in time, and keeps deciding alone for a while rather than waiting each time', async () => {
    let asked = 0;
    const hanging = { canAsk: () => true, takeToken: () => (asked++, new Promise<never>(() => undefined)) };
    const { log, lines } = capturingLogger();
    const limiter = createSharedRateLimiter({ name: 'messages', perMinute: 1, cluster: hanging, fallback: createRateLimiter({ perMinute: 1 }), log, timeoutMs: 50 });
    const started = performance.now();
    expect((await limiter.take('c1')).allowed).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    // The next ones do not wait again: this instance's own bucket answers at once (and refuses the second).
    expect((await limiter.take('c1')).allowed).toBe(false);
    expect(asked).toBe(1);
    expect(lines.filter((l) => l.includes('counts alone'))).toHaveLength(1);
  });
});
