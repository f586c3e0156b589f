import { describe, it, expect } from 'vitest';
import { recallTarget, tuneRejectionThreshold, type TuningRow } from '../../src/training/out-of-scope-threshold.ts';

const inScope = (p: number, right = true): TuningRow => ({ inScopeProbability: p, inScope: true, right });
const outOfScope = (p: number): TuningRow => ({ inScopeProbability: p, inScope: false, right: false });

describe('recallTarget', () => {
  it('adds one standard error of a recall measured on that many examples', () => {
    expect(recallTarget(0.8, 100)).toBeCloseTo(0.84, 12);
    expect(recallTarget(0.8, 200)).toBeCloseTo(0.8 + Math.sqrt(0.16 / 200), 12);
    expect(recallTarget(0.8, 10_000)).toBeCloseTo(0.804, 12);
  });

  it('asks for the bare recall when there is nothing to measure it on, and never more than 1', () => {
    expect(recallTarget(0.8, 0)).toBe(0.8);
    expect(recallTarget(0.99, 1)).toBe(1);
  });
});

describe('tuneRejectionThreshold', () => {
  const rows = [outOfScope(0.1), outOfScope(0.2), outOfScope(0.3), outOfScope(0.6), inScope(0.25, false), inScope(0.4), inScope(0.5), inScope(0.7), inScope(0.9)];

  it('rejects just enough out-of-scope examples, losing as few right answers as it can', () => {
    // 75 % recall: reject below 0.3's neighbourhood, which costs only a wrong in-scope answer.
    const t = tuneRejectionThreshold(rows, 0.75);
    expect(t).toBeGreaterThan(0.3);
    expect(t).toBeLessThan(0.4);
  });

  it('pays with right answers when the target demands it', () => {
    const t = tuneRejectionThreshold(rows, 1);
    expect(t).toBeGreaterThan(0.6);
    expect(t).toBeLessThan(0.7);
  });

  it('rejects nothing when no out-of-scope recall is asked for', () => {
    expect(tuneRejectionThreshold(rows, 0)).toBe(0);
  });

  it('rejects examples with equal probabilities together', () => {
    const tied = [outOfScope(0.5), inScope(0.5), inScope(0.9)];
    const t = tuneRejectionThreshold(tied, 1);
    expect(t).toBeGreaterThan(0.5);
    expect(t).toBeLessThan(0.9);
  });
});
