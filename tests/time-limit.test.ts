import { describe, expect, it } from 'vitest';
import { settlesWithin, valueWithin } from '../src/time-limit.ts';

describe('time limits', () => {
  const never = new Promise<never>(() => undefined);
  it('says whether a promise settled in time, a failure counting as settled', async () => {
    expect(await settlesWithin(Promise.resolve(1), 50)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('x')), 50)).toBe(true);
    expect(await settlesWithin(never, 20)).toBe(false);
  });
  it("gives a promise's value or its failure in time, else a rejection naming what did not answer", async () => {
    expect(await valueWithin(Promise.resolve(7), 50, 'Redis')).toBe(7);
    await expect(valueWithin(Promise.reject(new Error('refused')), 50, 'Redis')).rejects.toThrow('refused');
    await expect(valueWithin(never, 20, 'Redis')).rejects.toThrow('Redis: no answer within 20 ms');
  });
});
