import type { Candidate } from '../../domain/types.ts';
import { KefuError } from '../../errors.ts';
import { fitLogistic, predictLogistic, type Logistic } from '../../math/logistic.ts';
import { segmentWords } from '../../text/segment.ts';

/** One FAQ paraphrase as indexed: already normalised text and the FAQ it belongs to. */
export interface FaqParaphrase {
  faq: string;
  text: string;
}

/** A query the calibration learns from: the FAQ it should find, or null when no FAQ should answer it. */
export interface CalibrationQuery {
  text: string;
  faq: string | null;
}

export interface FaqIndex {
  readonly faqs: readonly string[];
  /** The best FAQs for a normalised query, with calibrated confidence that the FAQ answers it. */
  search(normalised: string, k?: number): Candidate[];
  toJSON(): SerializedFaqIndex;
}

export interface SerializedFaqIndex {
  kind: 'kefu-faq-index';
  version: 1;
  paraphrases: FaqParaphrase[];
  calibration: Logistic;
}

const HAN = /\p{Script=Han}/u;

// Terms for retrieval: whole words (so 「信用卡」 matches as a unit) and Han character bigrams (so a typo or a
// different segmentation still shares most terms); single Han characters are too common to rank by.
function terms(normalised: string): Map<string, number> {
  const tf = new Map<string, number>();
  const add = (t: string): void => void tf.set(t, (tf.get(t) ?? 0) + 1);
  for (const w of segmentWords(normalised)) add(`w:${w}`);
  for (const run of normalised.split(' ')) {
    if (!HAN.test(run)) continue;
    const chars = [...run];
    for (let i = 0; i + 1 < chars.length; i++) add(`b:${chars[i]}${chars[i + 1]}`);
    if (chars.length === 1) add(`b:${chars[0]}`);
  }
  return tf;
}

// Postings as parallel typed arrays, and one score buffer reused by every query: with Maps of objects, scoring a
// query over the pack's bigram postings was a fifth of a routed turn in bench:chat's profile.
interface Postings {
  docs: Int32Array;
  weights: Float64Array;
}

interface Core {
  faqs: string[];
  docFaq: Int32Array;
  idf: Map<string, number>;
  postings: Map<string, Postings>;
  /** Scratch per query: a score per paraphrase, and which ones were touched (so only those are reset). */
  scores: Float64Array;
  touched: Int32Array;
}

function buildCore(paraphrases: readonly FaqParaphrase[]): Core {
  const faqs = [...new Set(paraphrases.map((p) => p.faq))].sort();
  const faqIdx = new Map(faqs.map((f, i) => [f, i]));
  const docs = paraphrases.map((p) => terms(p.text));
  const df = new Map<string, number>();
  for (const d of docs) for (const t of d.keys()) df.set(t, (df.get(t) ?? 0) + 1);
  const n = docs.length;
  const idf = new Map<string, number>();
  for (const [t, c] of df) idf.set(t, Math.log((1 + n) / (1 + c)) + 1);
  const lists = new Map<string, { doc: number; weight: number }[]>();
  docs.forEach((d, doc) => {
    const vec = weigh(d, idf);
    for (const [t, weight] of vec) {
      let list = lists.get(t);
      if (!list) lists.set(t, (list = []));
      list.push({ doc, weight });
    }
  });
  const postings = new Map<string, Postings>();
  for (const [t, list] of lists) {
    postings.set(t, { docs: Int32Array.from(list, (p) => p.doc), weights: Float64Array.from(list, (p) => p.weight) });
  }
  return {
    faqs, docFaq: Int32Array.from(paraphrases, (p) => faqIdx.get(p.faq) ?? 0), idf, postings,
    scores: new Float64Array(n), touched: new Int32Array(n),
  };
}

// Sublinear TF × IDF, L2-normalised, so that a dot product is the cosine similarity.
function weigh(tf: Map<string, number>, idf: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  let norm = 0;
  for (const [t, c] of tf) {
    const w = (1 + Math.log(c)) * (idf.get(t) ?? 0);
    if (w > 0) {
      out.set(t, w);
      norm += w * w;
    }
  }
  norm = Math.sqrt(norm) || 1;
  for (const [t, w] of out) out.set(t, w / norm);
  return out;
}

/** Best cosine similarity per FAQ, optionally ignoring one paraphrase (for leave-one-out calibration). */
function faqSimilarities(core: Core, normalised: string, skipDoc = -1): Float64Array {
  const q = weigh(terms(normalised), core.idf);
  const { scores, touched, docFaq } = core;
  let nTouched = 0;
  for (const [t, w] of q) {
    const list = core.postings.get(t);
    if (!list) continue;
    const { docs, weights } = list;
    for (let i = 0; i < docs.length; i++) {
      const doc = docs[i]!;
      if (scores[doc] === 0) touched[nTouched++] = doc;
      scores[doc] = scores[doc]! + w * weights[i]!;
    }
  }
  const best = new Float64Array(core.faqs.length);
  for (let i = 0; i < nTouched; i++) {
    const doc = touched[i]!;
    const s = scores[doc]!;
    scores[doc] = 0;
    if (doc === skipDoc) continue;
    const f = docFaq[doc]!;
    if (s > best[f]!) best[f] = s;
  }
  return best;
}

function topK(sims: Float64Array, k: number): { idx: number; sim: number; margin: number }[] {
  // Partial selection: k is small (the router asks for 5) and a pack has hundreds of FAQs, so no full sort.
  const order: number[] = [];
  for (let i = 0; i < sims.length; i++) {
    const s = sims[i]!;
    if (order.length === Math.max(k, 2) && s <= sims[order[order.length - 1]!]!) continue;
    let at = order.length;
    while (at > 0 && sims[order[at - 1]!]! < s) at--;
    order.splice(at, 0, i);
    if (order.length > Math.max(k, 2)) order.pop();
  }
  const first = sims[order[0] ?? 0] ?? 0;
  const second = sims[order[1] ?? 0] ?? 0;
  return order.slice(0, k).map((idx, rank) => {
    const sim = sims[idx] ?? 0;
    return { idx, sim, margin: rank === 0 ? sim - second : sim - first };
  });
}

function calibrationFeatures(sim: number, margin: number): number[] {
  return [sim, margin];
}

function createIndex(paraphrases: FaqParaphrase[], core: Core, calibration: Logistic): FaqIndex {
  return {
    faqs: core.faqs,
    search(normalised, k = 5) {
      if (core.faqs.length === 0) return [];
      const sims = faqSimilarities(core, normalised);
      // A runner-up can never be more likely than the FAQ ranked above it, whatever the curve says about its features.
      let cap = 1;
      return topK(sims, k)
        .filter((c) => c.sim > 0)
        .map((c) => {
          cap = Math.min(cap, predictLogistic(calibration, calibrationFeatures(c.sim, c.margin)));
          return { topic: core.faqs[c.idx] ?? '', confidence: cap };
        });
    },
    toJSON: () => ({ kind: 'kefu-faq-index', version: 1, paraphrases, calibration }),
  };
}

/**
 * Indexes every FAQ paraphrase and calibrates its confidence: each paraphrase is searched with itself left out
 * (would its siblings find the right FAQ?) and each negative query (intent phrasings, out-of-scope text) must
 * find none, and a logistic curve over (best similarity, margin to the runner-up) is fitted to those outcomes.
 */
export function buildFaqIndex(paraphrases: FaqParaphrase[], negatives: readonly CalibrationQuery[] = []): FaqIndex {
  const core = buildCore(paraphrases);
  const xs: number[][] = [];
  const ys: number[] = [];
  paraphrases.forEach((p, doc) => {
    const [top] = topK(faqSimilarities(core, p.text, doc), 1);
    if (!top) return;
    xs.push(calibrationFeatures(top.sim, top.margin));
    ys.push(core.faqs[top.idx] === p.faq && top.sim > 0 ? 1 : 0);
  });
  for (const q of negatives) {
    const [top] = topK(faqSimilarities(core, q.text), 1);
    if (!top) continue;
    xs.push(calibrationFeatures(top.sim, top.margin));
    ys.push(q.faq !== null && core.faqs[top.idx] === q.faq ? 1 : 0);
  }
  // With no evidence either way the curve stays flat at 0.5 rather than inventing confidence.
  let calibration: Logistic = { w: [0, 0], b: 0 };
  if (ys.some((y) => y === 1) && ys.some((y) => y === 0)) {
    calibration = fitLogistic(xs, ys);
    // More similarity or a wider lead must never lower confidence; on small packs the fit can say otherwise
    // (too few examples), and then a curve on similarity alone is the honest one.
    if ((calibration.w[0] ?? 0) < 0 || (calibration.w[1] ?? 0) < 0) {
      const simOnly = fitLogistic(xs.map((x) => [x[0] ?? 0]), ys);
      calibration = { w: [Math.max(0, simOnly.w[0] ?? 0), 0], b: simOnly.b };
    }
  }
  return createIndex(paraphrases, core, calibration);
}

/** Rebuilds a FAQ index from its JSON; throws KEFU_MODEL_INVALID when the JSON is not one. */
export function loadFaqIndex(json: unknown): FaqIndex {
  const j = json as Partial<SerializedFaqIndex> | null;
  if (!j || j.kind !== 'kefu-faq-index' || j.version !== 1 || !Array.isArray(j.paraphrases) || !j.calibration || !Array.isArray(j.calibration.w)) {
    throw new KefuError('KEFU_MODEL_INVALID', ['not a kefu FAQ index (version 1)']);
  }
  const paraphrases = j.paraphrases.filter((p): p is FaqParaphrase => typeof p?.faq === 'string' && typeof p?.text === 'string');
  if (paraphrases.length !== j.paraphrases.length) throw new KefuError('KEFU_MODEL_INVALID', ['FAQ index has malformed paraphrases']);
  return createIndex(paraphrases, buildCore(paraphrases), j.calibration);
}
