/**
 * Turns raw scores of one or more models into calibrated probabilities: p = softmax(Σ_m a_m · s_m).
 *
 * The weights a_m are fitted on held-out examples by minimising the negative log-likelihood of the true label.
 * With one model this is temperature scaling (a = 1 / T, Guo et al. 2017); with several it is also the
 * ensemble's mixing weights, fitted jointly. The loss is convex in a (the logits are linear in a), so a few
 * Newton steps find the optimum; no learning rate to tune.
 */

/** Held-out scores: scores[m][i] holds model m's K raw scores for example i. */
export interface HeldOutScores {
  readonly scores: readonly (readonly Float64Array[])[];
  readonly labels: Int32Array;
}

function softmaxInto(z: Float64Array, out: Float64Array): void {
  let max = -Infinity;
  for (let k = 0; k < z.length; k++) if (z[k]! > max) max = z[k]!;
  let sum = 0;
  for (let k = 0; k < z.length; k++) {
    const e = Math.exp(z[k]! - max);
    out[k] = e;
    sum += e;
  }
  for (let k = 0; k < z.length; k++) out[k]! /= sum;
}

/** Mean negative log-likelihood of the held-out labels under weights `a`. */
export function heldOutLoss(data: HeldOutScores, a: readonly number[]): number {
  const n = data.labels.length;
  if (n === 0) return 0;
  const K = data.scores[0]![0]!.length;
  const z = new Float64Array(K);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    z.fill(0);
    for (let m = 0; m < a.length; m++) {
      const s = data.scores[m]![i]!;
      for (let k = 0; k < K; k++) z[k]! += a[m]! * s[k]!;
    }
    let max = -Infinity;
    for (let k = 0; k < K; k++) if (z[k]! > max) max = z[k]!;
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(z[k]! - max);
    loss += max + Math.log(sum) - z[data.labels[i]!]!;
  }
  return loss / n;
}

/** Fits non-negative weights a_m (one per model) minimising held-out NLL by damped Newton steps. */
export function fitLogitWeights(data: HeldOutScores, initial?: readonly number[]): number[] {
  const M = data.scores.length;
  const n = data.labels.length;
  let a = initial ? [...initial] : new Array<number>(M).fill(1);
  if (n === 0 || M === 0) return a;
  const K = data.scores[0]![0]!.length;
  const z = new Float64Array(K);
  const p = new Float64Array(K);
  const ridge = 1e-6;
  let loss = heldOutLoss(data, a);
  for (let iter = 0; iter < 50; iter++) {
    const g = new Float64Array(M);
    const H = new Float64Array(M * M);
    const mean = new Float64Array(M);
    for (let i = 0; i < n; i++) {
      z.fill(0);
      for (let m = 0; m < M; m++) {
        const s = data.scores[m]![i]!;
        for (let k = 0; k < K; k++) z[k]! += a[m]! * s[k]!;
      }
      softmaxInto(z, p);
      const y = data.labels[i]!;
      for (let m = 0; m < M; m++) {
        const s = data.scores[m]![i]!;
        let e = 0;
        for (let k = 0; k < K; k++) e += p[k]! * s[k]!;
        mean[m] = e;
        g[m]! += e - s[y]!;
      }
      for (let m = 0; m < M; m++) {
        const sm = data.scores[m]![i]!;
        for (let q = m; q < M; q++) {
          const sq = data.scores[q]![i]!;
          let e = 0;
          for (let k = 0; k < K; k++) e += p[k]! * sm[k]! * sq[k]!;
          const c = e - mean[m]! * mean[q]!;
          H[m * M + q]! += c;
          if (q !== m) H[q * M + m]! += c;
        }
      }
    }
    for (let m = 0; m < M; m++) {
      g[m]! /= n;
      for (let q = 0; q < M; q++) H[m * M + q]! /= n;
      H[m * M + m]! += ridge;
    }
    const step = solve(H, g, M);
    // Backtracking keeps every step a descent step, and weights stay non-negative (a model never counts against).
    let t = 1;
    let next = a;
    let nextLoss = loss;
    for (let tries = 0; tries < 30; tries++) {
      const cand = a.map((v, m) => Math.max(0, v - t * step[m]!));
      const l = heldOutLoss(data, cand);
      if (l < loss) {
        next = cand;
        nextLoss = l;
        break;
      }
      t /= 2;
    }
    if (next === a || loss - nextLoss < 1e-9) {
      a = next;
      break;
    }
    a = next;
    loss = nextLoss;
  }
  return a;
}

/** Solves H x = g for a small symmetric positive definite H (Gaussian elimination with partial pivoting). */
function solve(H: Float64Array, g: Float64Array, M: number): Float64Array {
  const A = Float64Array.from(H);
  const b = Float64Array.from(g);
  for (let c = 0; c < M; c++) {
    let piv = c;
    for (let r = c + 1; r < M; r++) if (Math.abs(A[r * M + c]!) > Math.abs(A[piv * M + c]!)) piv = r;
    if (piv !== c) {
      for (let k = 0; k < M; k++) [A[c * M + k], A[piv * M + k]] = [A[piv * M + k]!, A[c * M + k]!];
      [b[c], b[piv]] = [b[piv]!, b[c]!];
    }
    const d = A[c * M + c]! || 1e-12;
    for (let r = c + 1; r < M; r++) {
      const f = A[r * M + c]! / d;
      for (let k = c; k < M; k++) A[r * M + k]! -= f * A[c * M + k]!;
      b[r]! -= f * b[c]!;
    }
  }
  const x = new Float64Array(M);
  for (let r = M - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let k = r + 1; k < M; k++) s -= A[r * M + k]! * x[k]!;
    x[r] = s / (A[r * M + r]! || 1e-12);
  }
  return x;
}

/** Calibrated probabilities for one example: softmax of the weighted sum of each model's raw scores. */
export function combineScores(parts: readonly Float64Array[], weights: readonly number[], out: Float64Array): Float64Array {
  const z = new Float64Array(out.length);
  for (let m = 0; m < parts.length; m++) {
    const a = weights[m]!;
    if (a === 0) continue;
    const s = parts[m]!;
    for (let k = 0; k < z.length; k++) z[k]! += a * s[k]!;
  }
  softmaxInto(z, out);
  return out;
}
