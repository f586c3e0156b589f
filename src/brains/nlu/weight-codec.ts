/**
 * Weight matrices as the classifier keeps them, in memory and in JSON: each class's weights quantised to 8 (or 16)
 * bits with their own scale. A 30,000-feature × 150-class model is 4.5 MB in memory and ~6 MB of base64 JSON
 * instead of 18 MB of float32 and ~50 MB of JSON numbers, loads with one Buffer decode, and scoring reads a quarter
 * of the memory. Training quantises each class as soon as it is trained, so the full float matrix never exists and
 * the model right after training scores exactly like the model loaded from its JSON.
 */
export interface QuantisedWeights {
  readonly classes: number;
  readonly features: number;
  readonly bits: 8 | 16;
  /** Feature-major: q[f * classes + k], so scoring one text walks contiguous memory for each of its features. */
  readonly q: Int8Array | Int16Array;
  /** weight = q * scales[k]. */
  readonly scales: Float64Array;
  readonly biases: Float64Array;
}

export interface EncodedWeights {
  classes: number;
  features: number;
  bits: 8 | 16;
  scales: number[];
  biases: number[];
  /** base64 of q (Int16 little-endian). */
  q: string;
}

function maxLevel(bits: 8 | 16): number {
  return bits === 8 ? 127 : 32767;
}

/** An all-zero matrix to be filled class by class with setClassWeights(). */
export function createQuantisedWeights(classes: number, features: number, bits: 8 | 16): QuantisedWeights {
  const size = classes * features;
  return {
    classes,
    features,
    bits,
    q: bits === 8 ? new Int8Array(size) : new Int16Array(size),
    scales: new Float64Array(classes).fill(1),
    biases: new Float64Array(classes),
  };
}

/** Quantises one class's trained weights (w[f] for every feature) into column k. */
export function setClassWeights(m: QuantisedWeights, k: number, w: ArrayLike<number>, bias: number): void {
  const K = m.classes;
  let max = 0;
  for (let f = 0; f < m.features; f++) max = Math.max(max, Math.abs(w[f]!));
  const scale = max > 0 ? max / maxLevel(m.bits) : 1;
  m.scales[k] = scale;
  m.biases[k] = bias;
  for (let f = 0; f < m.features; f++) m.q[f * K + k] = Math.round(w[f]! / scale);
}

/** Raw linear scores of one sparse vector for every class, written into `out`. */
export function scoreInto(m: QuantisedWeights, indices: ArrayLike<number>, values: ArrayLike<number>, out: Float64Array): Float64Array {
  const K = m.classes;
  const q = m.q;
  const n = indices.length;
  out.fill(0);
  // Four features per pass over the labels: `out` is read and written a quarter as often, which is what the loop
  // costs (on the hidden layer's 256 units, 1.8× faster than one feature per pass in a micro-benchmark).
  let p = 0;
  for (; p + 3 < n; p += 4) {
    const b0 = indices[p]! * K;
    const b1 = indices[p + 1]! * K;
    const b2 = indices[p + 2]! * K;
    const b3 = indices[p + 3]! * K;
    const v0 = values[p]!;
    const v1 = values[p + 1]!;
    const v2 = values[p + 2]!;
    const v3 = values[p + 3]!;
    for (let k = 0; k < K; k++) out[k]! += q[b0 + k]! * v0 + q[b1 + k]! * v1 + q[b2 + k]! * v2 + q[b3 + k]! * v3;
  }
  for (; p < n; p++) {
    const base = indices[p]! * K;
    const v = values[p]!;
    for (let k = 0; k < K; k++) out[k]! += q[base + k]! * v;
  }
  for (let k = 0; k < K; k++) out[k] = m.biases[k]! + m.scales[k]! * out[k]!;
  return out;
}

export function encodeWeights(m: QuantisedWeights): EncodedWeights {
  const bytes = Buffer.from(m.q.buffer, m.q.byteOffset, m.q.byteLength);
  return { classes: m.classes, features: m.features, bits: m.bits, scales: Array.from(m.scales), biases: Array.from(m.biases), q: bytes.toString('base64') };
}

/** Decodes EncodedWeights; returns a reason string when the JSON does not hold a well-formed matrix. */
export function decodeWeights(json: unknown): QuantisedWeights | string {
  if (typeof json !== 'object' || json === null) return 'weights are not an object';
  const e = json as Partial<EncodedWeights>;
  const { classes: K, features: V, bits } = e;
  if (!Number.isInteger(K) || !Number.isInteger(V) || K! < 1 || V! < 0) return 'weights have no valid shape';
  if (bits !== 8 && bits !== 16) return 'weights.bits must be 8 or 16';
  if (!Array.isArray(e.scales) || e.scales.length !== K || !e.scales.every(Number.isFinite)) return 'weights.scales do not match the classes';
  if (!Array.isArray(e.biases) || e.biases.length !== K || !e.biases.every(Number.isFinite)) return 'weights.biases do not match the classes';
  if (typeof e.q !== 'string') return 'weights.q is missing';
  const bytes = Buffer.from(e.q, 'base64');
  if (bytes.length !== K! * V! * (bits / 8)) return `weights.q holds ${bytes.length} bytes, expected ${K! * V! * (bits / 8)}`;
  const copy = new Uint8Array(bytes); // an aligned copy of its own for the typed view
  return {
    classes: K!,
    features: V!,
    bits,
    q: bits === 8 ? new Int8Array(copy.buffer) : new Int16Array(copy.buffer),
    scales: Float64Array.from(e.scales),
    biases: Float64Array.from(e.biases),
  };
}
