import { describe, expect, it } from 'vitest';
import { validate, version } from 'uuid';
import { timeOrderedId } from '../../src/store/message-ids.ts';

describe('timeOrderedId', () => {
  it('gives valid, distinct UUIDv7s across many refills of its random pool', () => {
    const ids = Array.from({ length: 5_000 }, () => timeOrderedId());
    for (const id of ids.slice(0, 50).concat(ids.slice(-50))) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // The random parts differ too: the pool is not handing the same bytes out again.
    expect(new Set(ids.map((id) => id.slice(-12))).size).toBe(ids.length);
  });

  it('keeps ids of the same millisecond in the order they were made', () => {
    const ids = Array.from({ length: 2_000 }, () => timeOrderedId());
    expect([...ids].sort()).toEqual(ids);
  });

  it('sorts ids made in a later millisecond after earlier ones', async () => {
    const first = timeOrderedId();
    await new Promise((r) => setTimeout(r, 3));
    const second = timeOrderedId();
    expect(second > first).toBe(true);
    expect(second.slice(0, 13) > first.slice(0, 13)).toBe(true);
  });
});
