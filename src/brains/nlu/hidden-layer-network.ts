import { softmaxInto } from '../../math/softmax.ts';
import { BatchGradientRows } from './batch-gradient-rows.ts';
import { createTrainingWorkspace, seededRandom, type SparseMatrix, type TrainingWorkspace } from './sparse-matrix.ts';
import { createQuantisedWeights, scoreInto, setClassWeights, type QuantisedWeights } from './weight-codec.ts';

/**
 * A one-hidden-layer network on sparse TF-IDF rows: h = ReLU(W1ᵀx + b1), scores = W2ᵀh + b2, trained with
 * softmax cross-entropy by mini-batch Adam.
 *
 * The linear parts see each feature on its own; the hidden layer learns combinations of features (which words
 * together mean which intent), so its errors differ from theirs. W1 is feature-major (W1[f * H + j]) so that a
 * row's forward and backward passes touch contiguous memory, and Adam's moments are only updated for the features
 * in a batch ("lazy" Adam): an epoch costs in proportion to the non-zeros, not to the vocabulary.
 */
export interface HiddenLayerOptions {
  /** Hidden units, at most: fewer when the input layer's training arrays would exceed maxTrainingBytes. */
  hidden: number;
  /**
   * Bytes the input layer may hold while training (weights and Adam's two moments, 12 bytes per weight): 193 units
   * for MASSIVE zh-TW's 17,000 features, 162 for BANKING77's 20,600, 103 for CLINC150's 32,000, so that peak memory
   * stays within the 250 MB budget (on tuning slices, 256 units instead of ~170 were worth +0.1 to +0.5 point).
   * The arrays share one workspace with the softmax regression and node-nlp's network.
   */
  maxTrainingBytes: number;
  epochs: number;
  /** Fewest Adam steps: small training sets (a knowledge pack) get more epochs, or the network barely moves. */
  minSteps: number;
  /** Adam step size. */
  learningRate: number;
  batch: number;
  /** Probability of zeroing each hidden unit while training (inverted dropout; 0 turns it off). */
  dropout: number;
  seed: number;
}

export const DEFAULT_HIDDEN_LAYER_OPTIONS: Readonly<HiddenLayerOptions> = Object.freeze({
  hidden: 256,
  maxTrainingBytes: 40e6,
  epochs: 5,
  minSteps: 500,
  learningRate: 0.002,
  batch: 64,
  dropout: 0.3,
  seed: 3,
});

/** The trained network, each layer quantised like the other parts' weights. */
export interface HiddenLayerWeights {
  /** V features → H hidden units ("classes" are hidden units). */
  readonly hidden: QuantisedWeights;
  /** H hidden units → K labels. */
  readonly output: QuantisedWeights;
}

/** Adam's state for one parameter array. */
interface Moments {
  m: Float32Array;
  v: Float32Array;
}

/** Hidden units for a vocabulary of V features: options.hidden, fewer when the input layer would not fit maxTrainingBytes. */
export function hiddenUnits(V: number, options: Partial<HiddenLayerOptions> = {}): number {
  const o: HiddenLayerOptions = { ...DEFAULT_HIDDEN_LAYER_OPTIONS, ...options };
  return Math.max(16, Math.min(o.hidden, Math.floor(o.maxTrainingBytes / (12 * Math.max(1, V)))));
}

export function trainHiddenLayerNetwork(
  x: SparseMatrix,
  y: Int32Array,
  K: number,
  options: Partial<HiddenLayerOptions>,
  bits: 8 | 16,
  workspace: TrainingWorkspace = createTrainingWorkspace(),
): HiddenLayerWeights {
  const o: HiddenLayerOptions = { ...DEFAULT_HIDDEN_LAYER_OPTIONS, ...options };
  const V = x.cols;
  const H = hiddenUnits(V, o);
  const n = x.rows;
  const rand = seededRandom(o.seed);
  // He-style initialisation, scaled for sparse unit-norm rows: a row's pre-activation then has a spread near 1.
  const [W1, m1, v1] = workspace([V * H, V * H, V * H]) as [Float32Array, Float32Array, Float32Array];
  const s1 = Math.sqrt(6 / (H + 16));
  for (let i = 0; i < W1.length; i++) W1[i] = (rand() * 2 - 1) * s1;
  const b1 = new Float32Array(H);
  const W2 = new Float32Array(H * K);
  const s2 = Math.sqrt(6 / (H + K));
  for (let i = 0; i < W2.length; i++) W2[i] = (rand() * 2 - 1) * s2;
  const b2 = new Float32Array(K);
  const mo1: Moments = { m: m1, v: v1 };
  const mb1: Moments = { m: new Float32Array(H), v: new Float32Array(H) };
  const mo2: Moments = { m: new Float32Array(H * K), v: new Float32Array(H * K) };
  const mb2: Moments = { m: new Float32Array(K), v: new Float32Array(K) };

  const order = Int32Array.from({ length: n }, (_, i) => i);
  const g1 = new BatchGradientRows(V, H, Math.min(V, x.indices.length));
  const gb1 = new Float32Array(H);
  const g2 = new Float32Array(H * K);
  const gb2 = new Float32Array(K);
  const h = new Float32Array(H);
  const mask = new Float32Array(H);
  const dh = new Float32Array(H);
  const p = new Float64Array(K);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const keep = 1 - o.dropout;
  let t = 0;

  const adam = (w: Float32Array, g: Float32Array, st: Moments, from: number, gFrom: number, len: number, lr: number): void => {
    const { m, v } = st;
    for (let i = 0; i < len; i++) {
      const gi = g[gFrom + i]!;
      const wi = from + i;
      const mi = beta1 * m[wi]! + (1 - beta1) * gi;
      const vi = beta2 * v[wi]! + (1 - beta2) * gi * gi;
      m[wi] = mi;
      v[wi] = vi;
      w[wi]! -= (lr * mi) / (Math.sqrt(vi) + 1e-8);
    }
  };

  const epochs = Math.max(o.epochs, Math.ceil(o.minSteps / Math.max(1, Math.ceil(n / o.batch))));
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    for (let s = 0; s < n; s += o.batch) {
      const B = Math.min(o.batch, n - s);
      gb1.fill(0);
      g2.fill(0);
      gb2.fill(0);
      for (let bi = 0; bi < B; bi++) {
        const r = order[s + bi]!;
        const start = x.indptr[r]!;
        const end = x.indptr[r + 1]!;
        // Forward.
        h.set(b1);
        for (let q = start; q < end; q++) {
          const f = x.indices[q]! * H;
          const v = x.values[q]!;
          for (let j = 0; j < H; j++) h[j]! += v * W1[f + j]!;
        }
        for (let j = 0; j < H; j++) {
          const on = h[j]! > 0 && (keep === 1 || rand() < keep);
          mask[j] = on ? 1 / keep : 0;
          h[j] = on ? h[j]! / keep : 0;
        }
        for (let k = 0; k < K; k++) p[k] = b2[k]!;
        for (let j = 0; j < H; j++) {
          const hj = h[j]!;
          if (hj === 0) continue;
          const off = j * K;
          for (let k = 0; k < K; k++) p[k]! += hj * W2[off + k]!;
        }
        softmaxInto(p, p);
        // Backward: dz = (p - onehot) / B.
        for (let k = 0; k < K; k++) p[k] = p[k]! / B;
        p[y[r]!]! -= 1 / B;
        for (let k = 0; k < K; k++) gb2[k]! += p[k]!;
        for (let j = 0; j < H; j++) {
          const off = j * K;
          const hj = h[j]!;
          let d = 0;
          for (let k = 0; k < K; k++) {
            d += W2[off + k]! * p[k]!;
            if (hj !== 0) g2[off + k]! += hj * p[k]!;
          }
          dh[j] = d * mask[j]!;
          gb1[j]! += dh[j]!;
        }
        for (let q = start; q < end; q++) {
          const v = x.values[q]!;
          const g = g1.row(x.indices[q]!);
          const rows = g1.values;
          for (let j = 0; j < H; j++) rows[g + j]! += v * dh[j]!;
        }
      }
      t++;
      const lr = (o.learningRate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
      adam(b2, gb2, mb2, 0, 0, K, lr);
      adam(W2, g2, mo2, 0, 0, H * K, lr);
      adam(b1, gb1, mb1, 0, 0, H, lr);
      for (let i = 0; i < g1.count; i++) adam(W1, g1.values, mo1, g1.features[i]! * H, i * H, H, lr);
      g1.nextBatch();
    }
  }

  const hidden = createQuantisedWeights(H, V, bits);
  const col = new Float64Array(V);
  for (let j = 0; j < H; j++) {
    for (let f = 0; f < V; f++) col[f] = W1[f * H + j]!;
    setClassWeights(hidden, j, col, b1[j]!);
  }
  const output = createQuantisedWeights(K, H, bits);
  const out = new Float64Array(H);
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < H; j++) out[j] = W2[j * K + k]!;
    setClassWeights(output, k, out, b2[k]!);
  }
  return { hidden, output };
}

/** Raw scores (logits) of one sparse vector for every label, written into `out`. */
export function scoreHiddenLayer(w: HiddenLayerWeights, indices: ArrayLike<number>, values: ArrayLike<number>, out: Float64Array): Float64Array {
  const h = scoreInto(w.hidden, indices, values, new Float64Array(w.hidden.classes));
  // Only active units reach the output layer: ReLU zeroes the rest.
  const idx: number[] = [];
  const val: number[] = [];
  for (let j = 0; j < h.length; j++) {
    if (h[j]! > 0) {
      idx.push(j);
      val.push(h[j]!);
    }
  }
  return scoreInto(w.output, idx, val, out);
}
