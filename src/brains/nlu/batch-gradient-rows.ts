/**
 * The input-layer gradient of one mini-batch, kept only for the features the batch touches: a row of `width` floats
 * per touched feature, zeroed on its first touch. The large trainers (softmax regression, the hidden-layer network)
 * update only those rows (lazy Adam), so a batch costs its non-zeros, not the vocabulary.
 */
export class BatchGradientRows {
  /** Row i (the i-th feature touched in this batch) is at i × width. Read it again after row(): it can grow. */
  values: Float32Array;
  /** The features touched in this batch, in the order of their first touch; `count` of them. */
  readonly features: Int32Array;
  count = 0;
  private readonly width: number;
  /** The batch a feature's row belongs to (-1: none yet); a new batch needs no clearing. */
  private readonly stamp: Int32Array;
  private readonly slot: Int32Array;
  private batch = 0;

  /** `maxTouched`: most features one batch can touch (never more than the vocabulary or the non-zeros). */
  constructor(vocabulary: number, width: number, maxTouched: number, initialRows = 1024) {
    this.width = width;
    this.values = new Float32Array(Math.max(1, initialRows) * width);
    this.features = new Int32Array(Math.max(1, maxTouched));
    this.stamp = new Int32Array(vocabulary).fill(-1);
    this.slot = new Int32Array(vocabulary);
  }

  /** Offset in `values` of feature `f`'s row, made (zeroed) on its first touch in this batch. */
  row(f: number): number {
    const w = this.width;
    if (this.stamp[f] !== this.batch) {
      this.stamp[f] = this.batch;
      this.slot[f] = this.count;
      this.features[this.count] = f;
      if ((this.count + 1) * w > this.values.length) {
        const grown = new Float32Array(this.values.length * 2);
        grown.set(this.values);
        this.values = grown;
      }
      this.values.fill(0, this.count * w, (this.count + 1) * w);
      this.count++;
    }
    return this.slot[f]! * w;
  }

  /** Starts the next batch: every row of this one is forgotten. */
  nextBatch(): void {
    this.batch++;
    this.count = 0;
  }
}
