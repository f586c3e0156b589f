import type { Outcome } from '../domain/types.ts';
import type { BrainReading } from './cross-validate.ts';

export interface TopicMetrics {
  topic: string;
  support: number;
  precision: number;
  recall: number;
  f1: number;
}

const OOS = '(out of scope)';
const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/** What the router effectively answered: its topic when it answered or handed off, else "out of scope". */
export function predictedTopic(o: Outcome): string {
  return (o.outcome === 'answer' || o.outcome === 'handoff') && o.topic !== null ? o.topic : OOS;
}

/** Per-topic precision, recall and F1 of the routed answers (out of scope counted as a class of its own). */
export function perTopicMetrics(readings: readonly BrainReading[], outcomes: readonly Outcome[]): TopicMetrics[] {
  const tp = new Map<string, number>(), fp = new Map<string, number>(), fn = new Map<string, number>(), support = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
  readings.forEach((r, i) => {
    const truth = r.topic ?? OOS;
    const pred = predictedTopic(outcomes[i] as Outcome);
    inc(support, truth);
    if (pred === truth) inc(tp, truth);
    else {
      inc(fp, pred);
      inc(fn, truth);
    }
  });
  const topics = [...new Set([...support.keys(), ...fp.keys()])].sort();
  return topics.map((topic) => {
    const t = tp.get(topic) ?? 0;
    const p = t + (fp.get(topic) ?? 0) === 0 ? 0 : t / (t + (fp.get(topic) ?? 0));
    const rc = t + (fn.get(topic) ?? 0) === 0 ? 0 : t / (t + (fn.get(topic) ?? 0));
    return { topic, support: support.get(topic) ?? 0, precision: r4(p), recall: r4(rc), f1: r4(p + rc === 0 ? 0 : (2 * p * rc) / (p + rc)) };
  });
}

/** The pairs the brains mix up most, by their top-ranked topic, with an example of each. */
export function confusedPairs(readings: readonly BrainReading[], outcomes: readonly Outcome[], limit = 15): { truth: string; predicted: string; count: number; example: string }[] {
  const pairs = new Map<string, { truth: string; predicted: string; count: number; example: string }>();
  readings.forEach((r, i) => {
    const o = outcomes[i] as Outcome;
    const top = o.candidates[0]?.topic ?? OOS;
    const truth = r.topic ?? OOS;
    if (top === truth) return;
    const key = `${truth}\u0000${top}`;
    const p = pairs.get(key) ?? { truth, predicted: top, count: 0, example: r.text };
    p.count++;
    pairs.set(key, p);
  });
  return [...pairs.values()].sort((a, b) => b.count - a.count).slice(0, limit);
}
