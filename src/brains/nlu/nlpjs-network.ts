import { createRequire } from 'node:module';
import type { ClassWeightsSink } from './linear-svm.ts';
import { createTrainingWorkspace, seededRandom, type SparseMatrix, type TrainingWorkspace } from './sparse-matrix.ts';

/**
 * node-nlp's intent network (@nlpjs/neural NeuralNetwork: one perceptron per intent, leaky-ReLU output,
 * squared error, SGD with momentum and a decaying learning rate) trained on kefu's TF-IDF vectors instead of
 * node-nlp's own stems.
 *
 * We keep upstream's training loop (`train()`: epochs, learning-rate decay, stopping rules) and its settings, and
 * replace only the two inner loops. Upstream keeps each example as an object keyed by feature number, which V8
 * stores as a hash table once the keys are sparse: one epoch over 9,000 utterances took ~1 s with words alone.
 * The overrides below compute the same arithmetic on typed arrays (tests/brains/nlu checks they agree with
 * upstream on a small corpus).
 */
export interface NetworkOptions {
  /** Upper bound on epochs (upstream default 20,000 is far too many for a 60 s training budget). */
  iterations: number;
  learningRate: number;
  momentum: number;
  /** Slope of the output for negative sums during training (upstream's leaky-ReLU `alpha`). */
  alpha: number;
  errorThresh: number;
  deltaErrorThresh: number;
  /** Shuffle the examples once before training (upstream trains in corpus order, often grouped by intent). */
  shuffle: boolean;
  seed: number;
}

export const DEFAULT_NETWORK_OPTIONS: Readonly<NetworkOptions> = Object.freeze({
  iterations: 30,
  learningRate: 0.6,
  momentum: 0.5,
  alpha: 0.07,
  errorThresh: 0.00005,
  deltaErrorThresh: 0.000001,
  shuffle: true,
  seed: 7,
});

interface Perceptron {
  id: number;
  weights: Float32Array;
  changes: Float32Array;
  bias: number;
}

interface Example {
  input: { indices: Int32Array; values: Float32Array | Float64Array };
  label: number;
}

interface NeuralNetworkInstance {
  settings: { alpha: number; momentum: number };
  decayLearningRate: number;
  perceptrons: Perceptron[];
  lookup: unknown;
  status: { iterations: number; error: number };
  train(corpus: Example[]): { iterations: number; error: number };
}

type NeuralNetworkClass = new (settings: Record<string, unknown>) => NeuralNetworkInstance;

const require = createRequire(import.meta.url);
const { NeuralNetwork } = require('@nlpjs/neural') as { NeuralNetwork: NeuralNetworkClass };

/** Upstream's per-perceptron output: 0 for a non-positive sum, alpha * sum otherwise. */
function runPerceptron(alpha: number, p: Perceptron, input: Example['input']): number {
  let sum = p.bias;
  const w = p.weights;
  for (let k = 0; k < input.indices.length; k++) sum += input.values[k]! * w[input.indices[k]!]!;
  return sum <= 0 ? 0 : alpha * sum;
}

/** NeuralNetwork with its two hot loops on typed arrays; everything else is upstream's. */
class TypedNeuralNetwork extends (NeuralNetwork as NeuralNetworkClass) {
  constructor(
    settings: Record<string, unknown>,
    private readonly features: number,
    private readonly outputs: readonly string[],
    private readonly workspace: TrainingWorkspace,
  ) {
    super(settings);
  }

  initialize(numInputs: number, outputNames: readonly string[]): void {
    // Upstream's initialize with the perceptrons' arrays (zeroed, as upstream's are) carved from the shared training
    // workspace: 2 × labels × features floats (CLINC150: ~40 MB) that would otherwise be one more set of large
    // arrays alive beside the other trainers' garbage.
    const arrays = this.workspace(outputNames.flatMap(() => [numInputs, numInputs]));
    const self = this as unknown as { perceptronsByName: Record<string, Perceptron>; outputs: Record<string, number>; numPerceptrons: number };
    self.perceptronsByName = {};
    self.outputs = {};
    self.numPerceptrons = outputNames.length;
    this.perceptrons = outputNames.map((name, i) => {
      const p = { name, id: i, weights: arrays[2 * i]!, changes: arrays[2 * i + 1]!, bias: 0 };
      self.outputs[name] = 0;
      self.perceptronsByName[name] = p;
      return p;
    });
  }

  prepareCorpus(corpus: Example[]): Example[] {
    // Upstream builds string lookups here; our features are already numbered.
    this.lookup = { numInputs: this.features, outputLookup: { items: this.outputs } };
    return corpus;
  }

  runInputPerceptron(p: Perceptron, input: Example['input']): number {
    return runPerceptron(this.settings.alpha, p, input);
  }

  trainPerceptron(p: Perceptron, data: Example[]): number {
    const { alpha, momentum } = this.settings;
    const { changes, weights } = p;
    const rate = this.decayLearningRate;
    let error = 0;
    for (let i = 0; i < data.length; i++) {
      const { input, label } = data[i]!;
      const actual = runPerceptron(alpha, p, input);
      const err = (label === p.id ? 1 : 0) - actual;
      if (err) {
        error += err * err;
        const delta = (actual > 0 ? 1 : alpha) * err * rate;
        const { indices, values } = input;
        for (let k = 0; k < indices.length; k++) {
          const key = indices[k]!;
          const change = delta * values[k]! + momentum * changes[key]!;
          changes[key] = change;
          weights[key]! += change;
        }
        p.bias += delta;
      }
    }
    return error;
  }
}

/** The upstream class itself, for the equivalence test. */
export const UpstreamNeuralNetwork = NeuralNetwork;

/** Trains node-nlp's network on sparse vectors; hands each perceptron's weights and bias to `sink`. */
export function trainNlpjsNetwork(
  x: SparseMatrix,
  labels: Int32Array,
  classes: number,
  options: Partial<NetworkOptions>,
  sink: ClassWeightsSink,
  workspace: TrainingWorkspace = createTrainingWorkspace(),
): { epochs: number; error: number } {
  const opts: NetworkOptions = { ...DEFAULT_NETWORK_OPTIONS, ...options };
  const order = Array.from({ length: x.rows }, (_, i) => i);
  const rand = seededRandom(opts.seed);
  for (let i = opts.shuffle ? order.length - 1 : 0; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const corpus: Example[] = order.map((r) => {
    const a = x.indptr[r]!;
    const b = x.indptr[r + 1]!;
    return { input: { indices: x.indices.subarray(a, b), values: x.values.subarray(a, b) }, label: labels[r]! };
  });
  const names = Array.from({ length: classes }, (_, k) => String(k));
  const { seed: _seed, shuffle: _shuffle, ...settings } = opts;
  const net = new TypedNeuralNetwork({ ...settings, log: false }, x.cols, names, workspace);
  const status = net.train(corpus);
  const w = new Float64Array(x.cols);
  for (let k = 0; k < classes; k++) {
    const p = net.perceptrons[k]!;
    w.set(p.weights);
    sink(k, w, p.bias);
  }
  return { epochs: status.iterations, error: status.error };
}
