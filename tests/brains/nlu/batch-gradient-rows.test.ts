import { describe, it, expect } from 'vitest';
import { BatchGradientRows } from '../../../src/brains/nlu/batch-gradient-rows.ts';

describe('batch gradient rows', () => {
  it('gives each touched feature one zeroed row per batch, in order of first touch', () => {
    const rows = new BatchGradientRows(10, 3, 10, 1);
    const a = rows.row(7);
    const b = rows.row(2);
    expect([a, b, rows.row(7)]).toEqual([0, 3, 0]);
    expect([rows.count, [...rows.features.subarray(0, rows.count)]]).toEqual([2, [7, 2]]);
    rows.values.fill(5, 0, 6);
    rows.nextBatch();
    // A new batch: feature 2 first now, and its row starts from zero whatever the last batch left there.
    expect(rows.row(2)).toBe(0);
    expect([...rows.values.subarray(0, 3)]).toEqual([0, 0, 0]);
    expect(rows.count).toBe(1);
  });

  it('grows its storage when a batch touches more features than it had room for, keeping the rows', () => {
    const rows = new BatchGradientRows(100, 2, 100, 1);
    for (let f = 0; f < 40; f++) {
      const at = rows.row(f); // before reading `values`: the call may have replaced it
      rows.values[at] = f;
    }
    expect(rows.values.length).toBeGreaterThanOrEqual(80);
    for (let f = 0; f < 40; f++) expect(rows.values[rows.row(f)]).toBe(f);
  });
});
