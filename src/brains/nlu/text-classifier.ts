import { softmaxInto } from '../../math/softmax.ts';
import type { Candidate } from '../../domain/types.ts';
import { KefuError } from '../../errors.ts';
import { fitFeaturiser, loadFeaturiser, unknownWordShare, type FeatureOptions, type Featuriser, type SparseVector } from '../../text/features.ts';
import {
  combineLogits,
  detectorProbability,
  fitLogitWeights,
  fitOutOfScopeDetector,
  outOfScopeScore,
  type HeldOutScores,
} from './calibration.ts';
import { hiddenUnits, scoreHiddenLayer, trainHiddenLayerNetwork, type HiddenLayerOptions, type HiddenLayerWeights } from './hidden-layer-network.ts';
import { trainLinearSvm } from './linear-svm.ts';
import { trainNlpjsNetwork, type NetworkOptions } from './nlpjs-network.ts';
import { trainSoftmaxRegression, type SoftmaxOptions } from './softmax-regression.ts';
import { createTrainingWorkspace, mapLazily, toSparseMatrix, type SparseMatrix, type TrainingWorkspace } from './sparse-matrix.ts';
import {
  createQuantisedWeights,
  decodeWeights,
  encodeWeights,
  scoreInto,
  setClassWeights,
  type EncodedWeights,
  type QuantisedWeights,
} from './weight-codec.ts';

/**
 * The NLU brain's intent classifier: TF-IDF features → a one-vs-rest linear SVM, node-nlp's neural network, a
 * softmax regression and a one-hidden-layer network, each scoring every label, combined as
 * p = softmax(a_svm · s_svm + a_net · s_net + a_sm · s_sm + a_hl · s_hl) with a fitted on held-out examples, so the probabilities are calibrated (a confidence of 0.3 is right about 30 %
 * of the time) and the mix between the parts is learnt rather than guessed. When the held-out examples include
 * out-of-scope ones, read() reports p(out of scope) from a detector fitted on them (see calibration.ts).
 */

/** Label of explicit out-of-scope training examples; never shown as a topic. */
export const OOS_LABEL = '__oos__';

/** One training utterance; `text` is already normalised. */
export interface TrainingSample {
  text: string;
  label: string;
}

/** Which scorer answers: each part alone (with its own calibration) or both together. */
export type ClassifierPart = 'linear' | 'network' | 'softmax' | 'hidden' | 'ensemble';

export interface ClassifierOptions {
  /** Features of the linear model (see src/text/features.ts). minDf defaults to 2 from 1,000 samples up, else 1. */
  features: Partial<FeatureOptions>;
  /** Features of the network: 'shared' uses the linear model's vectors, otherwise its own view. */
  networkFeatures: Partial<FeatureOptions> | 'shared';
  /** SVM inverse regularisation. */
  C: number;
  /** node-nlp network settings, or false for the linear model alone. */
  network: Partial<NetworkOptions> | false;
  /** Softmax regression on the linear model's features, or false to leave it out. */
  softmax: Partial<SoftmaxOptions> | false;
  /** One-hidden-layer network on the linear model's features, or false to leave it out. */
  hidden: Partial<HiddenLayerOptions> | false;
  /**
   * Held-out samples to calibrate on; when null a stratified slice of the training samples is held out. Samples
   * labelled OOS_LABEL here fit the out-of-scope detector even when no training sample has that label.
   */
  validation: TrainingSample[] | null;
  /** Fraction of each label's samples held out for calibration when no validation set is given. */
  holdout: number;
  /** After calibrating on a held-out slice, train again on all samples (the calibration carries over). */
  refit: boolean;
  /** Bits per stored weight (8 keeps models small; 16 if accuracy ever suffers). */
  bits: 8 | 16;
}

export const DEFAULT_CLASSIFIER_OPTIONS: Readonly<ClassifierOptions> = Object.freeze({
  // Han character 1-2-grams rather than 1-3: on the knowledge pack (5-fold CV) and on MASSIVE zh-TW's tuning
  // slice the SVM was ~1 point better; English text is unaffected (Han runs only).
  features: { hanChars: [1, 2] as const },
  // The network sees words, word bigrams, word pairs and Han characters 1-2, not the SVM's character 2-5-grams:
  // a different view is what makes it worth mixing in, and a sparser vector keeps its epochs cheap.
  networkFeatures: { latinChars: [0, 0] as const, hanChars: [1, 2] as const, wordPairWindow: 3 },
  C: 1,
  network: { iterations: 10 },
  softmax: {},
  hidden: {},
  validation: null,
  holdout: 0.15,
  refit: true,
  bits: 8,
});

/** One reading of a message: real topics apart from the out-of-scope probability. */
export interface ClassifierReading {
  /** Calibrated probabilities of real topics (never OOS_LABEL), best first, top k. */
  candidates: Candidate[];
  /**
   * Probability that the message is about none of the topics: the out-of-scope detector's when the classifier has
   * one, else the softmax's p(OOS_LABEL); 0 for a classifier trained without OOS_LABEL. The detector is calibrated
   * on its own, so it need not add up to 1 with the candidates.
   */
  outOfScope: number;
}

export interface TextClassifier {
  /** Includes OOS_LABEL if it was trained with it. */
  readonly labels: readonly string[];
  /** Calibrated probabilities (sum ≤ 1 over all labels, OOS_LABEL included), best first, top k (default 5). */
  classify(normalised: string, k?: number): Candidate[];
  /** The real topics' probabilities, with out-of-scope reported apart: what the NLU brain and bench:nlu use. */
  read(normalised: string, k?: number): ClassifierReading;
  /** Plain JSON that loadTextClassifier() turns back into an identical classifier. */
  toJSON(): unknown;
}

/** Calibration weights, one per part they combine (ensemble: [linear, network, softmax, hidden]; 0 for a missing part). */
interface Calibration {
  ensemble: number[];
  linear: number[];
  network: number[];
  softmax: number[];
  hidden: number[];
  /**
   * Out-of-scope detector [b0, b1, b2] of each scorer (see calibration.ts), fitted when the held-out examples had
   * enough out-of-scope ones (version 3; models saved before the unknown-word share have [b0, b1]); a scorer
   * without one uses its joint softmax's p(oos).
   */
  detector?: Partial<Record<ClassifierPart, number[]>>;
}

interface Parts {
  featuriser: Featuriser;
  netFeaturiser: Featuriser | null;
  linear: QuantisedWeights;
  network: QuantisedWeights | null;
  softmax: QuantisedWeights | null;
  hidden: HiddenLayerWeights | null;
}

interface ClassifierJSON {
  format: 'kefu-text-classifier';
  version: 1 | 2 | 3;
  labels: string[];
  featuriser: unknown;
  networkFeaturiser: unknown;
  linear: EncodedWeights;
  network: EncodedWeights | null;
  softmax: EncodedWeights | null;
  /** Version 3: the hidden-layer network's two layers. */
  hidden?: { hidden: EncodedWeights; output: EncodedWeights } | null;
  calibration: Calibration;
}

const FORMAT = 'kefu-text-classifier';

/** Weights used when there is nothing to calibrate on (fewer than two samples for every label). */
const UNCALIBRATED: Calibration = { ensemble: [4, 0.25, 0, 0], linear: [5], network: [0.4], softmax: [1], hidden: [1] };

function featureOptionsFor(samples: number, base: Partial<FeatureOptions>): Partial<FeatureOptions> {
  // A term seen once cannot generalise, and on 10,000+ utterances dropping them shrinks the model by half with no
  // loss (measured on BANKING77, CLINC150, MASSIVE); small packs keep them because a rare keyword may be all there is.
  return { minDf: samples >= 1000 ? 2 : 1, ...base };
}

type Trainer = (x: SparseMatrix, sink: (k: number, w: Float64Array, b: number) => void) => void;

/** Trains each given part on a fitted featuriser's vectors; the training matrix is garbage once this returns. */
function fitPart(
  texts: readonly string[],
  K: number,
  featuriser: Featuriser,
  bits: 8 | 16,
  trainers: readonly Trainer[],
  trainHidden: ((x: SparseMatrix) => HiddenLayerWeights) | null = null,
): { featuriser: Featuriser; weights: QuantisedWeights[]; hidden: HiddenLayerWeights | null } {
  const x = toSparseMatrix(mapLazily(texts, (t) => featuriser.transform(t)), featuriser.size, featuriser.trainingNonZeros);
  const weights = trainers.map((train) => {
    const w = createQuantisedWeights(K, featuriser.size, bits);
    train(x, (k, cw, b) => setClassWeights(w, k, cw, b));
    return w;
  });
  return { featuriser, weights, hidden: trainHidden ? trainHidden(x) : null };
}

function fitParts(
  samples: readonly TrainingSample[],
  labelIndex: ReadonlyMap<string, number>,
  opts: ClassifierOptions,
  workspace: TrainingWorkspace,
): Parts {
  const texts = samples.map((s) => s.text);
  const y = Int32Array.from(samples, (s) => labelIndex.get(s.label)!);
  const K = labelIndex.size;
  const trainers: Trainer[] = [(x, sink) => trainLinearSvm(x, y, K, { C: opts.C }, sink)];
  const smOptions = opts.softmax;
  if (smOptions !== false) trainers.push((x, sink) => trainSoftmaxRegression(x, y, K, smOptions, sink, workspace));
  const netOptions = opts.network;
  const trainNet: Trainer = (x, sink) => {
    if (netOptions !== false) trainNlpjsNetwork(x, y, K, netOptions, sink, workspace);
  };
  if (netOptions !== false && opts.networkFeatures === 'shared') trainers.push(trainNet);
  const hlOptions = opts.hidden;
  const trainHidden = hlOptions !== false ? (x: SparseMatrix) => trainHiddenLayerNetwork(x, y, K, hlOptions, opts.bits, workspace) : null;
  // The network's own view goes first: its matrix and featuriser are then garbage while the linear part trains,
  // rather than the linear part's larger ones lingering (V8 collects them when it gets to it) while it trains.
  const netFeatures = opts.networkFeatures;
  const netFeaturiser = netOptions !== false && netFeatures !== 'shared' ? fitFeaturiser(texts, featureOptionsFor(texts.length, netFeatures)) : null;
  const featuriser = fitFeaturiser(texts, featureOptionsFor(texts.length, opts.features));
  // The largest of the big trainers' arrays, allocated once up front: growing the buffer between trainers would
  // leave the smaller one for V8 to collect while the next trains.
  const V = featuriser.size;
  workspace.reserve(
    Math.max(
      smOptions !== false ? 3 * V * K : 0,
      hlOptions !== false ? 3 * V * hiddenUnits(V, hlOptions) : 0,
      netOptions !== false ? 2 * (netFeaturiser ?? featuriser).size * K : 0,
    ),
  );
  const network = netFeaturiser ? fitPart(texts, K, netFeaturiser, opts.bits, [trainNet]) : null;
  const linear = fitPart(texts, K, featuriser, opts.bits, trainers, trainHidden);
  const [linearWeights, ...rest] = linear.weights;
  const softmax = smOptions !== false ? rest.shift()! : null;
  const base = { featuriser: linear.featuriser, netFeaturiser: null, linear: linearWeights!, softmax, hidden: linear.hidden };
  if (netOptions === false) return { ...base, network: null };
  if (!network) return { ...base, network: rest.shift()! };
  return { ...base, netFeaturiser: network.featuriser, network: network.weights[0]! };
}

/** Raw scores of each part for one text: [linear, network, softmax, hidden], null for a part the model does not have. */
function partScores(parts: Parts, text: string): (Float64Array | null)[] {
  const K = parts.linear.classes;
  const v: SparseVector = parts.featuriser.transform(text);
  const out: (Float64Array | null)[] = [scoreInto(parts.linear, v.indices, v.values, new Float64Array(K)), null, null, null];
  if (parts.network) {
    const nv = parts.netFeaturiser ? parts.netFeaturiser.transform(text) : v;
    out[1] = scoreInto(parts.network, nv.indices, nv.values, new Float64Array(K));
  }
  if (parts.softmax) out[2] = scoreInto(parts.softmax, v.indices, v.values, new Float64Array(K));
  if (parts.hidden) out[3] = scoreHiddenLayer(parts.hidden, v.indices, v.values, new Float64Array(K));
  return out;
}

/** Splits each label's samples: every n-th into the held-out slice (deterministic, stratified). */
function stratifiedSplit(samples: readonly TrainingSample[], fraction: number): { train: TrainingSample[]; heldOut: TrainingSample[] } {
  const byLabel = new Map<string, number>();
  const totals = new Map<string, number>();
  for (const s of samples) totals.set(s.label, (totals.get(s.label) ?? 0) + 1);
  const train: TrainingSample[] = [];
  const heldOut: TrainingSample[] = [];
  const every = Math.max(2, Math.round(1 / fraction));
  for (const s of samples) {
    const seen = (byLabel.get(s.label) ?? 0) + 1;
    byLabel.set(s.label, seen);
    // A label keeps at least one training sample: with two samples, one may be held out.
    if (totals.get(s.label)! >= 2 && seen % every === 0) heldOut.push(s);
    else if (totals.get(s.label)! >= 2 && totals.get(s.label)! < every && seen === totals.get(s.label)) heldOut.push(s);
    else train.push(s);
  }
  return { train, heldOut };
}

/** Held-out examples as calibration sees them: each part's raw scores, the label, and the unknown-word share. */
interface HeldOut {
  scores: (Float64Array | null)[][];
  /** Label index, or -1 for an out-of-scope example when the classifier has no OOS_LABEL class. */
  labels: Int32Array;
  unknownShares: Float64Array;
}

function fitCalibration(heldOut: HeldOut, parts: Parts, oos: number): Calibration {
  const present = [true, parts.network !== null, parts.softmax !== null, parts.hidden !== null];
  // The logit weights are fitted on examples of trained labels; out-of-scope ones without a class of their own
  // only fit the detector.
  const keep = Array.from(heldOut.labels, (y, i) => (y >= 0 ? i : -1)).filter((i) => i >= 0);
  const scores = keep.map((i) => heldOut.scores[i]!);
  const labels = Int32Array.from(keep, (i) => heldOut.labels[i]!);
  if (labels.length === 0) return { ...UNCALIBRATED, ensemble: UNCALIBRATED.ensemble.map((a, m) => (present[m] ? a : 0)) };
  const one = (m: number): number[] => (present[m] ? fitLogitWeights({ scores: [scores.map((s) => s[m]!)], labels }, [1]) : [0]);
  const used = [0, 1, 2, 3].filter((m) => present[m]);
  const all: HeldOutScores = { scores: used.map((m) => scores.map((s) => s[m]!)), labels };
  const fitted = fitLogitWeights(all, used.map(() => 1));
  const ensemble = [0, 0, 0, 0];
  used.forEach((m, i) => (ensemble[m] = fitted[i]!));
  const calibration: Calibration = { ensemble, linear: one(0), network: one(1), softmax: one(2), hidden: one(3) };
  // The detector is fitted on all held-out examples, out-of-scope ones included, on each scorer's calibrated logits.
  const isOos = heldOut.labels.map((y) => (y < 0 || y === oos ? 1 : 0));
  if (!isOos.some((x) => x === 1)) return calibration;
  const detector: Partial<Record<ClassifierPart, number[]>> = {};
  const K = parts.linear.classes;
  const zero = new Float64Array(K);
  const scorers: [ClassifierPart, (s: (Float64Array | null)[]) => Float64Array[], number[]][] = [
    ['ensemble', (s) => s.map((x) => x ?? zero), ensemble],
    ['linear', (s) => [s[0]!], calibration.linear],
    ['network', (s) => [s[1] ?? zero], calibration.network],
    ['softmax', (s) => [s[2] ?? zero], calibration.softmax],
    ['hidden', (s) => [s[3] ?? zero], calibration.hidden],
  ];
  for (const [part, pick, weights] of scorers) {
    if ((part === 'network' && !present[1]) || (part === 'softmax' && !present[2]) || (part === 'hidden' && !present[3])) continue;
    const rows = heldOut.scores.map((s, i) => [outOfScopeScore(combineLogits(pick(s), weights, new Float64Array(K)), oos), heldOut.unknownShares[i]!]);
    const d = fitOutOfScopeDetector(rows, isOos);
    if (d) detector[part] = d;
  }
  return Object.keys(detector).length > 0 ? { ...calibration, detector } : calibration;
}

/** One scorer's output: the calibrated softmax over all labels and the out-of-scope probability. */
interface Scored {
  p: Float64Array;
  outOfScope: number;
}

const internals = new WeakMap<TextClassifier, (text: string, part: ClassifierPart) => Scored>();

function buildClassifier(labels: readonly string[], parts: Parts, calibration: Calibration): TextClassifier {
  const K = labels.length;
  const oos = labels.indexOf(OOS_LABEL);
  const probabilities = (text: string, part: ClassifierPart): Scored => {
    const s = partScores(parts, text);
    const z = new Float64Array(K);
    const zero = new Float64Array(K);
    let used: ClassifierPart = part;
    if (part === 'ensemble') combineLogits(s.map((x) => x ?? zero), calibration.ensemble, z);
    else if (part === 'network' && s[1]) combineLogits([s[1]], calibration.network, z);
    else if (part === 'softmax' && s[2]) combineLogits([s[2]], calibration.softmax, z);
    else if (part === 'hidden' && s[3]) combineLogits([s[3]], calibration.hidden, z);
    else {
      combineLogits([s[0]!], calibration.linear, z);
      used = 'linear';
    }
    const p = new Float64Array(K);
    softmaxInto(z, p);
    // The topics' probabilities stay the joint softmax's, which the router's thresholds are tuned on: on the
    // knowledge pack's 5-fold CV (its out-of-scope class is well trained), routing on (1 − p_detector) × topic
    // share answered 77.0 % of in-scope phrasings right and let 11.1 % of out-of-scope ones through, against 88.6 %
    // and 9.1 % on the joint softmax. The detector only says "none of these".
    const detector = calibration.detector?.[used];
    if (detector) return { p, outOfScope: detectorProbability(z, oos, unknownWordShare(parts.featuriser, text), detector) };
    return { p, outOfScope: oos < 0 ? 0 : p[oos]! };
  };
  const toJSON = (): ClassifierJSON => ({
    format: FORMAT,
    version: 3 as const,
    labels: [...labels],
    featuriser: parts.featuriser.toJSON(),
    networkFeaturiser: parts.netFeaturiser?.toJSON() ?? null,
    linear: encodeWeights(parts.linear),
    network: parts.network ? encodeWeights(parts.network) : null,
    softmax: parts.softmax ? encodeWeights(parts.softmax) : null,
    hidden: parts.hidden ? { hidden: encodeWeights(parts.hidden.hidden), output: encodeWeights(parts.hidden.output) } : null,
    calibration,
  });
  const classifier: TextClassifier = {
    labels: Object.freeze([...labels]),
    classify: (normalised, k = 5) => topK(labels, probabilities(normalised, 'ensemble').p, k),
    read: (normalised, k = 5) => reading(labels, probabilities(normalised, 'ensemble'), oos, k),
    toJSON,
  };
  internals.set(classifier, probabilities);
  return classifier;
}

function topK(labels: readonly string[], p: Float64Array, k: number, skip = -1): Candidate[] {
  // Selection by repeated scans: k is small (5), so this beats sorting every label on each message.
  const n = Math.min(Math.max(0, k), p.length - (skip >= 0 ? 1 : 0));
  const taken = new Uint8Array(p.length);
  if (skip >= 0) taken[skip] = 1;
  const out: Candidate[] = [];
  for (let r = 0; r < n; r++) {
    let best = -1;
    for (let i = 0; i < p.length; i++) if (!taken[i] && (best < 0 || p[i]! > p[best]!)) best = i;
    taken[best] = 1;
    out.push({ topic: labels[best]!, confidence: p[best]! });
  }
  return out;
}

function reading(labels: readonly string[], scored: Scored, oos: number, k: number): ClassifierReading {
  return { candidates: topK(labels, scored.p, k, oos), outOfScope: scored.outOfScope };
}

/** Trains the classifier on normalised samples; calibrates on options.validation or a held-out slice. */
export async function trainTextClassifier(samples: TrainingSample[], options: Partial<ClassifierOptions> = {}): Promise<TextClassifier> {
  const opts: ClassifierOptions = { ...DEFAULT_CLASSIFIER_OPTIONS, ...options };
  if (samples.length === 0) throw new KefuError('KEFU_DATASET_INVALID', ['no training samples']);
  const labels = [...new Set(samples.map((s) => s.label))];
  if (labels.length < 2) throw new KefuError('KEFU_DATASET_INVALID', ['at least two labels are needed to classify']);
  const labelIndex = new Map(labels.map((l, i) => [l, i]));

  // Kept for the refit when there is one; otherwise let go before calibrating (scoring the held-out examples then
  // allocates, which lets V8 collect the buffer instead of holding it through calibration).
  let workspace: TrainingWorkspace | null = createTrainingWorkspace();
  let parts: Parts;
  let heldOut: TrainingSample[];
  if (opts.validation && opts.validation.length > 0) {
    parts = fitParts(samples, labelIndex, opts, workspace);
    // Out-of-scope examples are kept even without a class of their own: they fit the detector.
    heldOut = opts.validation.filter((s) => labelIndex.has(s.label) || s.label === OOS_LABEL);
  } else {
    const split = stratifiedSplit(samples, opts.holdout);
    heldOut = split.heldOut;
    parts = fitParts(heldOut.length > 0 ? split.train : samples, labelIndex, opts, workspace);
  }
  const refit = !opts.validation && opts.refit && heldOut.length > 0;
  if (!refit) workspace = null;
  const calibration = fitCalibration(
    {
      scores: heldOut.map((s) => partScores(parts, s.text)),
      labels: Int32Array.from(heldOut, (s) => labelIndex.get(s.label) ?? -1),
      unknownShares: Float64Array.from(heldOut, (s) => unknownWordShare(parts.featuriser, s.text)),
    },
    parts,
    labelIndex.get(OOS_LABEL) ?? -1,
  );
  if (refit && workspace) parts = fitParts(samples, labelIndex, opts, workspace);
  return buildClassifier(labels, parts, calibration);
}

function partProbabilities(classifier: TextClassifier, normalised: string, part: ClassifierPart): Scored {
  const probabilities = internals.get(classifier);
  if (!probabilities) throw new Error('classifyWithPart needs a classifier built by trainTextClassifier or loadTextClassifier');
  return probabilities(normalised, part);
}

/** Calibrated probabilities of one part (for ablation in bench-nlu); the classifier must come from this module. */
export function classifyWithPart(classifier: TextClassifier, normalised: string, part: ClassifierPart, k = 5): Candidate[] {
  return topK(classifier.labels, partProbabilities(classifier, normalised, part).p, k);
}

/** read() of one part (for ablation in bench-nlu); the classifier must come from this module. */
export function readWithPart(classifier: TextClassifier, normalised: string, part: ClassifierPart, k = 5): ClassifierReading {
  return reading(classifier.labels, partProbabilities(classifier, normalised, part), classifier.labels.indexOf(OOS_LABEL), k);
}

/** Rebuilds a classifier from toJSON() output; throws KefuError KEFU_MODEL_INVALID when it is not one. */
export function loadTextClassifier(json: unknown): TextClassifier {
  const fail = (reason: string): never => {
    throw new KefuError('KEFU_MODEL_INVALID', [reason], { details: [reason] });
  };
  if (typeof json !== 'object' || json === null) return fail('model is not an object');
  const j = json as Partial<ClassifierJSON>;
  if (j.format !== FORMAT) return fail(`model format is ${JSON.stringify(j.format)}, expected ${FORMAT}`);
  if (j.version !== 1 && j.version !== 2 && j.version !== 3) return fail(`model version ${String(j.version)} is not supported`);
  if (!Array.isArray(j.labels) || j.labels.length < 2 || !j.labels.every((l) => typeof l === 'string')) return fail('labels are missing');
  if (new Set(j.labels).size !== j.labels.length) return fail('labels repeat');
  const featuriser = loadFeaturiser(j.featuriser);
  if (typeof featuriser === 'string') return fail(featuriser);
  let netFeaturiser: Featuriser | null = null;
  if (j.networkFeaturiser !== null && j.networkFeaturiser !== undefined) {
    const f = loadFeaturiser(j.networkFeaturiser);
    if (typeof f === 'string') return fail(`network ${f}`);
    netFeaturiser = f;
  }
  const linear = decodeWeights(j.linear);
  if (typeof linear === 'string') return fail(`linear ${linear}`);
  if (linear.classes !== j.labels.length || linear.features !== featuriser.size) return fail('linear weights do not match labels and features');
  let network: QuantisedWeights | null = null;
  if (j.network !== null && j.network !== undefined) {
    const n = decodeWeights(j.network);
    if (typeof n === 'string') return fail(`network ${n}`);
    if (n.classes !== j.labels.length || n.features !== (netFeaturiser ?? featuriser).size) return fail('network weights do not match labels and features');
    network = n;
  }
  let softmax: QuantisedWeights | null = null;
  if (j.version !== 1 && j.softmax !== null && j.softmax !== undefined) {
    const sm = decodeWeights(j.softmax);
    if (typeof sm === 'string') return fail(`softmax ${sm}`);
    if (sm.classes !== j.labels.length || sm.features !== featuriser.size) return fail('softmax weights do not match labels and features');
    softmax = sm;
  }
  let hidden: HiddenLayerWeights | null = null;
  if (j.version === 3 && j.hidden !== null && j.hidden !== undefined) {
    const h = decodeWeights(j.hidden.hidden);
    if (typeof h === 'string') return fail(`hidden layer ${h}`);
    const o = decodeWeights(j.hidden.output);
    if (typeof o === 'string') return fail(`output layer ${o}`);
    if (h.features !== featuriser.size || o.features !== h.classes || o.classes !== j.labels.length) return fail('hidden-layer weights do not match labels and features');
    hidden = { hidden: h, output: o };
  }
  const c = j.calibration;
  const weightsOk = (a: unknown, n: number): boolean => Array.isArray(a) && a.length === n && a.every((x) => Number.isFinite(x) && x >= 0);
  // Version 1 models had two parts (linear, network), version 2 three (and softmax regression), version 3 four.
  const v1 = j.version === 1;
  const v3 = j.version === 3;
  if (
    !c ||
    !weightsOk(c.ensemble, v1 ? 2 : v3 ? 4 : 3) ||
    !weightsOk(c.linear, 1) ||
    !weightsOk(c.network, 1) ||
    (!v1 && !weightsOk(c.softmax, 1)) ||
    (v3 && !weightsOk(c.hidden, 1))
  ) {
    return fail('calibration is missing or malformed');
  }
  // Version 3 may add an out-of-scope detector per scorer: [b0, b1] or [b0, b1, b2], finite, m's slope b1 positive.
  const detectorOk = (d: unknown): boolean => Array.isArray(d) && (d.length === 2 || d.length === 3) && d.every(Number.isFinite) && (d[1] as number) > 0;
  if (c.detector !== undefined && (j.version !== 3 || typeof c.detector !== 'object' || c.detector === null || !Object.values(c.detector).every(detectorOk))) {
    return fail('calibration.detector is malformed');
  }
  const calibration: Calibration = v1
    ? { ensemble: [...c.ensemble, 0, 0], linear: c.linear, network: c.network, softmax: [0], hidden: [0] }
    : v3
      ? c
      : { ...c, ensemble: [...c.ensemble, 0], hidden: [0] };
  return buildClassifier(j.labels, { featuriser, netFeaturiser, linear, network, softmax, hidden }, calibration);
}
