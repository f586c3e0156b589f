import type { Outcome } from '../domain/types.ts';
import type { Router } from '../router/router.ts';
import type { Thresholds } from '../config.ts';
import { normalise } from '../text/normalise.ts';
import type { BrainReading } from './cross-validate.ts';

/** How well routing served a labelled set under one set of thresholds. */
export interface RoutingScore {
  n: number;
  inScope: number;
  outOfScope: number;
  /** Top-ranked topic (either brain) is the right one, over in-scope utterances. */
  top1Accuracy: number;
  /** Answered (or handed off) with the right topic, over in-scope utterances. */
  inScopeAccuracy: number;
  /** Clarify offering the right topic, over in-scope utterances. */
  clarifyRight: number;
  /** Answered with a wrong topic, over in-scope utterances. */
  wrongAnswerRate: number;
  inScopeFallbackRate: number;
  /** Out-of-scope utterances answered (or handed off) with a topic. */
  oosAnsweredRate: number;
  /** Out-of-scope utterances that fell back (or were handed off for it). */
  oosRecall: number;
  utility: number;
}

// In finance a wrong answer costs more than admitting doubt: a right answer earns 1, a clarify that offers the
// right topic 0.5, a fallback 0, a wrong answer -2; for out-of-scope text a fallback earns 1 and any topic -2.
const GAIN = { right: 1, clarifyRight: 0.5, wrong: -2, oosRejected: 1, oosAnswered: -2, oosClarify: -0.5 };

const answered = (o: Outcome): boolean => (o.outcome === 'answer' || o.outcome === 'handoff') && o.topic !== null;

/** Replays the router's decision for each reading and scores it. */
export function scoreRouting(router: Router, readings: readonly BrainReading[]): { score: RoutingScore; outcomes: Outcome[] } {
  let inScope = 0, oos = 0, top1 = 0, right = 0, clarifyRight = 0, wrong = 0, inFallback = 0, oosAnswered = 0, oosRejected = 0, utility = 0;
  const outcomes: Outcome[] = [];
  for (const r of readings) {
    const o = router.decide(r.text, normalise(r.text), r);
    outcomes.push(o);
    if (r.topic === null) {
      oos++;
      if (answered(o)) (oosAnswered++, (utility += GAIN.oosAnswered));
      else if (o.outcome === 'clarify') utility += GAIN.oosClarify;
      else (oosRejected++, (utility += GAIN.oosRejected));
      continue;
    }
    inScope++;
    if (o.candidates[0]?.topic === r.topic || (o.trace.rule === 'explicit-human' && o.topic === r.topic)) top1++;
    if (answered(o)) {
      if (o.topic === r.topic) (right++, (utility += GAIN.right));
      else (wrong++, (utility += GAIN.wrong));
    } else if (o.outcome === 'clarify' && o.options.some((x) => x.topic === r.topic)) (clarifyRight++, (utility += GAIN.clarifyRight));
    else if (o.outcome === 'fallback' || o.outcome === 'handoff') inFallback++;
  }
  const per = (x: number, d: number): number => (d === 0 ? 0 : Math.round((x / d) * 10_000) / 10_000);
  return {
    score: {
      n: readings.length, inScope, outOfScope: oos, top1Accuracy: per(top1, inScope), inScopeAccuracy: per(right, inScope),
      clarifyRight: per(clarifyRight, inScope), wrongAnswerRate: per(wrong, inScope), inScopeFallbackRate: per(inFallback, inScope),
      oosAnsweredRate: per(oosAnswered, oos), oosRecall: per(oosRejected, oos), utility: Math.round(utility * 100) / 100,
    },
    outcomes,
  };
}

/** The grid of thresholds `npm run evaluate` searches. */
export function thresholdGrid(): Thresholds[] {
  const grid: Thresholds[] = [];
  for (const faq of [0.6, 0.7, 0.8, 0.9, 0.95, 1.01])
    for (let nlu = 0.2; nlu <= 0.851; nlu += 0.05)
      for (const clarifyMargin of [0, 0.05, 0.1, 0.15, 0.2])
        for (const clarifyMin of [0.15, 0.25, 0.35]) grid.push({ faq, nlu: Math.round(nlu * 100) / 100, clarifyMargin, clarifyMin });
  return grid;
}

/**
 * Picks the thresholds with the highest utility among those that answer at most `maxOosAnswered` of the
 * out-of-scope utterances (ties go to the more cautious setting: fewer wrong answers).
 */
export function tuneThresholds(
  routerFor: (t: Thresholds) => Router,
  readings: readonly BrainReading[],
  maxOosAnswered = 0.1,
): { thresholds: Thresholds; score: RoutingScore; tried: number } {
  let best: { thresholds: Thresholds; score: RoutingScore } | null = null;
  let fallbackBest: { thresholds: Thresholds; score: RoutingScore } | null = null;
  const grid = thresholdGrid();
  for (const t of grid) {
    const { score } = scoreRouting(routerFor(t), readings);
    const better = (b: typeof best): boolean => !b || score.utility > b.score.utility || (score.utility === b.score.utility && score.wrongAnswerRate < b.score.wrongAnswerRate);
    if (score.outOfScope === 0 || score.oosAnsweredRate <= maxOosAnswered) {
      if (better(best)) best = { thresholds: t, score };
    } else if (!fallbackBest || score.oosAnsweredRate < fallbackBest.score.oosAnsweredRate) fallbackBest = { thresholds: t, score };
  }
  const chosen = best ?? fallbackBest;
  if (!chosen) throw new Error('threshold grid is empty');
  return { ...chosen, tried: grid.length };
}
