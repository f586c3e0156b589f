import { describe, it, expect } from 'vitest';
import { createRateLimiter } from '../../src/conversation/rate-limiter.ts';

describe('rate limiter', () => {
  it('allows a burst of perMinute, then refuses with the wait until the next one', () => {
    let t = 0;
    const limiter = createRateLimiter({ perMinute: 3, now: () => t });
    expect([1, 2, 3].map(() => limiter.take('c1').allowed)).toEqual([true, true, true]);
    expect(limiter.take('c1')).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 20 });
    expect(limiter.take('c2').allowed).toBe(true);
    t = 20_000; // one request refilled
    expect(limiter.take('c1')).toMatchObject({ allowed: true, remaining: 0 });
    expect(limiter.take('c1').allowed).toBe(false);
  });

  it('refills to the burst size and no further', () => {
    let t = 0;
    const limiter = createRateLimiter({ perMinute: 2, now: () => t });
    limiter.take('c');
    t = 10 * 60_000;
    expect(limiter.take('c').remaining).toBe(1);
    expect(limiter.take('c').allowed).toBe(true);
    expect(limiter.take('c').allowed).toBe(false);
  });

  it('forgets keys that have refilled, so memory does not grow with every conversation', () => {
    let t = 0;
    const limiter = createRateLimiter({ perMinute: 5, now: () => t });
    for (let i = 0; i < 999; i++) limiter.take(`c${i}`);
    expect(limiter.size).toBe(999);
    t = 60_000;
    limiter.take('late');
    expect(limiter.size).toBe(1);
  });
});
