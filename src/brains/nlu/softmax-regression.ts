import { softmaxInto } from '../../math/softmax.ts';
import { BatchGradientRows } from './batch-gradient-rows.ts';
import { createTrainingWorkspace, seededRandom, type SparseMatrix, type TrainingWorkspace } from './sparse-matrix.ts';
import type { ClassWeightsSink } from './linear-svm.ts';

/**
 * Multinomial logistic (softmax) regression on sparse TF-IDF rows, trained by mini-batch Adam.
 *
 * It sees the same features as the linear SVM but a different loss: one softmax over all labels rather than one
 * hinge per label against the rest, so its errors differ from the SVM's and the calibrated mix gains from both.
 * Weights are feature-major (W[f * K + k]) so that a row's update touches contiguous memory; Adam's moments are
 * only updated for the features present in a batch ("lazy" Adam), which keeps an epoch proportional to the
 * number of non-zeros rather than to the vocabulary. Moments are kept as Float32 to bound memory: three
 * V × K arrays (a 40,000-feature × 150-label model: 72 MB while training, freed on return).
 */
export interface SoftmaxOptions {
  epochs: number;
  /** Adam step size. */
  learningRate: number;
  batch: number;
  /** L2 penalty added to each touched weight's gradient. */
  l2: number;
  seed: number;
}

export const DEFAULT_SOFTMAX_OPTIONS: Readonly<SoftmaxOptions> = Object.freeze({ epochs: 4, learningRate: 0.02, batch: 64, l2: 0, seed: 1 });

export function trainSoftmaxRegression(
  x: SparseMatrix,
  y: Int32Array,
  K: number,
  options: Partial<SoftmaxOptions>,
  sink: ClassWeightsSink,
  workspace: TrainingWorkspace = createTrainingWorkspace(),
): void {
  const o: SoftmaxOptions = { ...DEFAULT_SOFTMAX_OPTIONS, ...options };
  const V = x.cols;
  const [W, mW, vW] = workspace([V * K, V * K, V * K]) as [Float32Array, Float32Array, Float32Array];
  const b = new Float64Array(K);
  const mb = new Float64Array(K);
  const vb = new Float64Array(K);
  const rand = seededRandom(o.seed);
  const n = x.rows;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  // Gradient of the batch, feature-major, for the features it touches.
  const gW = new BatchGradientRows(V, K, Math.min(V, x.indices.length));
  const gb = new Float64Array(K);
  const p = new Float64Array(K);
  const beta1 = 0.9;
  const beta2 = 0.999;
  let t = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    for (let s = 0; s < n; s += o.batch) {
      const B = Math.min(o.batch, n - s);
      gb.fill(0);
      for (let bi = 0; bi < B; bi++) {
        const r = order[s + bi]!;
        const start = x.indptr[r]!;
        const end = x.indptr[r + 1]!;
        for (let k = 0; k < K; k++) p[k] = b[k]!;
        for (let q = start; q < end; q++) {
          const f = x.indices[q]! * K;
          const v = x.values[q]!;
          for (let k = 0; k < K; k++) p[k]! += v * W[f + k]!;
        }
        softmaxInto(p, p);
        for (let k = 0; k < K; k++) p[k] = p[k]! / B;
        p[y[r]!]! -= 1 / B;
        for (let k = 0; k < K; k++) gb[k]! += p[k]!;
        for (let q = start; q < end; q++) {
          const v = x.values[q]!;
          const g = gW.row(x.indices[q]!);
          const rows = gW.values;
          for (let k = 0; k < K; k++) rows[g + k]! += v * p[k]!;
        }
      }
      t++;
      const lr = (o.learningRate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
      for (let k = 0; k < K; k++) {
        const g = gb[k]!;
        mb[k] = beta1 * mb[k]! + (1 - beta1) * g;
        vb[k] = beta2 * vb[k]! + (1 - beta2) * g * g;
        b[k]! -= (lr * mb[k]!) / (Math.sqrt(vb[k]!) + 1e-8);
      }
      for (let i = 0; i < gW.count; i++) {
        const off = gW.features[i]! * K;
        const g0 = i * K;
        for (let k = 0; k < K; k++) {
          const w = off + k;
          const g = gW.values[g0 + k]! + o.l2 * W[w]!;
          const m = beta1 * mW[w]! + (1 - beta1) * g;
          const v = beta2 * vW[w]! + (1 - beta2) * g * g;
          mW[w] = m;
          vW[w] = v;
          W[w]! -= (lr * m) / (Math.sqrt(v) + 1e-8);
        }
      }
      gW.nextBatch();
    }
  }
  const w = new Float64Array(V);
  for (let k = 0; k < K; k++) {
    for (let f = 0; f < V; f++) w[f] = W[f * K + k]!;
    sink(k, w, b[k]!);
  }
}
