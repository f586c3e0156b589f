/** A fitted logistic curve over a few features: p = σ(w·x + b). */
export interface Logistic {
  w: number[];
  b: number;
}

/** Logistic function. */
export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Probability under a fitted logistic curve. */
export function predictLogistic(m: Logistic, x: readonly number[]): number {
  let z = m.b;
  for (let i = 0; i < m.w.length; i++) z += (m.w[i] ?? 0) * (x[i] ?? 0);
  return sigmoid(z);
}

/**
 * Fits p(y=1|x) by Newton's method with a small L2 penalty (Platt-style calibration on a handful of features);
 * with two or three features this converges in a few iterations and needs no learning rate.
 */
export function fitLogistic(xs: readonly (readonly number[])[], ys: readonly number[], l2 = 1e-3, iterations = 50): Logistic {
  const d = (xs[0]?.length ?? 0) + 1;
  const theta = new Array<number>(d).fill(0);
  const n = xs.length;
  if (n === 0) return { w: theta.slice(0, d - 1), b: 0 };
  for (let it = 0; it < iterations; it++) {
    const g = new Array<number>(d).fill(0);
    const h: number[][] = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < n; i++) {
      const x = [...(xs[i] ?? []), 1];
      let z = 0;
      for (let j = 0; j < d; j++) z += (theta[j] ?? 0) * (x[j] ?? 0);
      const p = sigmoid(z);
      const r = p - (ys[i] ?? 0);
      const s = p * (1 - p);
      for (let j = 0; j < d; j++) {
        g[j] = (g[j] ?? 0) + r * (x[j] ?? 0);
        const hj = h[j] as number[];
        for (let k = 0; k < d; k++) hj[k] = (hj[k] ?? 0) + s * (x[j] ?? 0) * (x[k] ?? 0);
      }
    }
    for (let j = 0; j < d; j++) {
      g[j] = (g[j] ?? 0) / n + l2 * (theta[j] ?? 0);
      const hj = h[j] as number[];
      for (let k = 0; k < d; k++) hj[k] = (hj[k] ?? 0) / n + (j === k ? l2 : 0);
    }
    const step = solve(h, g);
    let change = 0;
    for (let j = 0; j < d; j++) {
      theta[j] = (theta[j] ?? 0) - (step[j] ?? 0);
      change += Math.abs(step[j] ?? 0);
    }
    if (change < 1e-9) break;
  }
  return { w: theta.slice(0, d - 1), b: theta[d - 1] ?? 0 };
}

// Gaussian elimination with partial pivoting; the systems here are at most 4×4.
function solve(a: number[][], bv: number[]): number[] {
  const n = bv.length;
  const m = a.map((row, i) => [...row, bv[i] ?? 0]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]?.[c] ?? 0) > Math.abs(m[p]?.[c] ?? 0)) p = r;
    [m[c], m[p]] = [m[p] as number[], m[c] as number[]];
    const pivot = m[c]?.[c] ?? 0;
    if (Math.abs(pivot) < 1e-12) continue;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = (m[r]?.[c] ?? 0) / pivot;
      for (let k = c; k <= n; k++) (m[r] as number[])[k] = (m[r]?.[k] ?? 0) - f * (m[c]?.[k] ?? 0);
    }
  }
  return m.map((row, i) => {
    const pv = row[i] ?? 0;
    return Math.abs(pv) < 1e-12 ? 0 : (row[n] ?? 0) / pv;
  });
}
