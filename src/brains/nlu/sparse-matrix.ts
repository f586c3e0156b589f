import type { SparseVector } from '../../text/features.ts';

/** Training vectors as compressed sparse rows: row r is indices/values[indptr[r] .. indptr[r + 1]). */
export interface SparseMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/**
 * Packs sparse vectors into one CSR matrix, one vector at a time, so the per-text vectors (30,000 small typed
 * arrays for 15,000 texts) never exist all at once. With the number of non-zeros known in advance (a featuriser's
 * trainingNonZeros) the arrays are allocated once: growing them leaves copies for V8 to collect whenever it gets
 * to it, ~20 MB on CLINC150 while the next part trains.
 */
export function toSparseMatrix(vectors: Iterable<SparseVector>, cols: number, capacity = 1 << 16): SparseMatrix {
  let indices = new Int32Array(Math.max(1, capacity));
  let values = new Float32Array(Math.max(1, capacity));
  const indptr: number[] = [0];
  let nnz = 0;
  for (const v of vectors) {
    const n = v.indices.length;
    if (nnz + n > indices.length) {
      const size = Math.max(Math.ceil(indices.length * 1.5), nnz + n);
      const i2 = new Int32Array(size);
      i2.set(indices.subarray(0, nnz));
      indices = i2;
      const v2 = new Float32Array(size);
      v2.set(values.subarray(0, nnz));
      values = v2;
    }
    indices.set(v.indices, nnz);
    values.set(v.values, nnz);
    nnz += n;
    indptr.push(nnz);
  }
  // Views, not copies: a copy would briefly need the matrix twice, and peak memory is what the budget counts.
  return { rows: indptr.length - 1, cols, indptr: Int32Array.from(indptr), indices: indices.subarray(0, nnz), values: values.subarray(0, nnz) };
}

/** Lazily maps an array, for feeding toSparseMatrix without an intermediate array. */
export function* mapLazily<T, U>(items: readonly T[], f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item);
}

/** A small seeded PRNG (mulberry32) so that training is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hands out zeroed Float32 arrays carved from one buffer that is reused from one call to the next. */
export interface TrainingWorkspace {
  (lengths: readonly number[]): Float32Array[];
  /** Grows the buffer to at least this many floats now, so that later requests up to it allocate nothing. */
  reserve(total: number): void;
}

/**
 * A workspace for the large training arrays (the softmax regression's and the hidden-layer network's weights and
 * Adam moments). Each trainer's arrays are garbage once it returns, but V8 collects such memory lazily, so two
 * trainers in a row (and the refit after calibrating) could hold several sets at once; peak memory is the budget
 * that counts, so they share one buffer, grown only when a request is larger than all before it.
 */
export function createTrainingWorkspace(): TrainingWorkspace {
  let buffer = new Float32Array(0);
  const take = (lengths: readonly number[]): Float32Array[] => {
    const total = lengths.reduce((a, b) => a + b, 0);
    if (total > buffer.length) buffer = new Float32Array(Math.ceil(total * 1.1));
    else buffer.fill(0, 0, total);
    let at = 0;
    return lengths.map((n) => {
      const view = buffer.subarray(at, at + n);
      at += n;
      return view;
    });
  };
  return Object.assign(take, {
    reserve(total: number): void {
      if (total > buffer.length) buffer = new Float32Array(Math.ceil(total * 1.1));
    },
  });
}
