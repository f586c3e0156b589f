import type { SparseVector } from '../../text/features.ts';

/** Training vectors as compressed sparse rows: row r is indices/values[indptr[r] .. indptr[r + 1]). */
export interface SparseMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/** Packs sparse vectors into one CSR matrix (one allocation instead of one per row, fast to scan). */
export function toSparseMatrix(vectors: readonly SparseVector[], cols: number): SparseMatrix {
  let nnz = 0;
  for (const v of vectors) nnz += v.indices.length;
  const indptr = new Int32Array(vectors.length + 1);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let p = 0;
  for (let r = 0; r < vectors.length; r++) {
    const v = vectors[r]!;
    indices.set(v.indices, p);
    values.set(v.values, p);
    p += v.indices.length;
    indptr[r + 1] = p;
  }
  return { rows: vectors.length, cols, indptr, indices, values };
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
