/**
 * The rejection threshold on a classifier's in-scope probability (1 − p(out of scope)), tuned on held-out
 * examples: the threshold that keeps the most in-scope examples right while rejecting at least a target share of
 * the out-of-scope ones.
 */

/** One held-out example as threshold tuning sees it. */
export interface TuningRow {
  /** 1 − the classifier's out-of-scope probability. */
  inScopeProbability: number;
  /** False for an out-of-scope example. */
  inScope: boolean;
  /** For an in-scope example: the classifier's top topic is its label. */
  right: boolean;
}

/**
 * The recall to demand on `outOfScopeExamples` held-out out-of-scope examples so that the recall on new ones is
 * `minRecall` or better: `minRecall` plus one standard error of a recall measured on that many examples,
 * √(r (1 − r) / n). Out-of-scope queries come from no fixed distribution, and a threshold tuned to exactly r on
 * one sample lands on either side of r on the next: on CLINC150, tuned to 80 % on val's 100, it caught 71–74 % of
 * train's 100 (unseen, classifier trained without them). With 200 examples the margin is 2.8 points; it shrinks as
 * a bank collects more.
 */
export function recallTarget(minRecall: number, outOfScopeExamples: number): number {
  if (outOfScopeExamples <= 0) return minRecall;
  return Math.min(1, minRecall + Math.sqrt((minRecall * (1 - minRecall)) / outOfScopeExamples));
}

/**
 * The threshold that maximises in-scope accuracy on `rows` subject to out-of-scope recall ≥ `targetRecall` (if no
 * threshold reaches that recall, the one with the highest recall); an example is rejected when its in-scope
 * probability is below the threshold. One sweep over the sorted probabilities.
 */
export function tuneRejectionThreshold(rows: readonly TuningRow[], targetRecall: number): number {
  const sorted = [...rows].sort((a, b) => a.inScopeProbability - b.inScopeProbability);
  const inN = sorted.filter((r) => r.inScope).length;
  const oosN = sorted.length - inN;
  // Threshold 0: nothing rejected.
  let inOk = sorted.filter((r) => r.inScope && r.right).length;
  let oosOk = 0;
  // Feasible points rank above infeasible ones; among feasible, in-scope accuracy; among infeasible, recall.
  const objective = (): number => {
    const recall = oosN ? oosOk / oosN : 1;
    return recall >= targetRecall - 1e-12 ? 2 + (inN ? inOk / inN : 0) : recall;
  };
  let best = 0;
  let bestScore = objective();
  for (let j = 0; j < sorted.length; j++) {
    const r = sorted[j]!;
    if (r.inScope && r.right) inOk--;
    if (!r.inScope) oosOk++;
    const next = sorted[j + 1];
    if (next && next.inScopeProbability === r.inScopeProbability) continue; // equal probabilities fall together
    const score = objective();
    if (score > bestScore + 1e-12) {
      bestScore = score;
      // Halfway to the next probability, so the threshold does not sit on a value seen in tuning.
      best = next ? (r.inScopeProbability + next.inScopeProbability) / 2 : r.inScopeProbability + 1e-9;
    }
  }
  return best;
}
