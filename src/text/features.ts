import { segmentWords } from './segment.ts';

/**
 * Turns normalised text into sparse TF-IDF vectors for the NLU brain's classifiers.
 *
 * Two blocks, each L2-normalised on its own and then weighted, so that neither words nor characters
 * drown the other whatever the text's length:
 *  - words: Intl.Segmenter words, 1..wordNgramMax-grams (bigrams catch "card arrival" vs "card lost");
 *  - characters: for Latin/digit runs, padded n-grams inside each run (sklearn's char_wb: robust to typos and
 *    inflection without a stemmer); for Han runs, plain character n-grams (Chinese word boundaries are
 *    ambiguous, and character 1..3-grams were measured better than any segmenter's words alone).
 * Term frequency is sublinear (1 + ln tf), IDF is smoothed as in sklearn: ln((1 + n) / (1 + df)) + 1.
 */
export interface FeatureOptions {
  /** Word n-grams from 1 up to this (0 turns the word block off). */
  wordNgramMax: number;
  /** Character n-gram range inside Latin/digit runs, padded with a space each side; [0, 0] turns it off. */
  latinChars: readonly [number, number];
  /** Character n-gram range inside Han runs; [0, 0] turns it off. */
  hanChars: readonly [number, number];
  /** Terms seen in fewer training texts than this are dropped (keeps models small). */
  minDf: number;
  /** 1 + ln(tf) instead of tf. */
  sublinearTf: boolean;
  /** Weight of the word block after its own L2 normalisation. */
  wordWeight: number;
  /** Weight of the character block after its own L2 normalisation. */
  charWeight: number;
  /** Every digit becomes 0, so "7 am" and "9 am" share features. */
  foldDigits: boolean;
  /** Ordered word pairs up to this many words apart (2 and more; 0 turns them off): cheap feature interactions. */
  wordPairWindow: number;
  /** Ordered Han character pairs up to this many characters apart (2 and more; 0 turns them off). */
  hanPairWindow: number;
}

export const DEFAULT_FEATURE_OPTIONS: Readonly<FeatureOptions> = Object.freeze({
  wordNgramMax: 2,
  latinChars: [2, 5] as const,
  hanChars: [1, 3] as const,
  minDf: 1,
  sublinearTf: true,
  wordWeight: 1,
  charWeight: 1,
  foldDigits: false,
  wordPairWindow: 0,
  hanPairWindow: 0,
});

/** A sparse vector: parallel arrays of feature indices and values (each index once, any order). */
export interface SparseVector {
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/** The terms of one text, split by block; strings are prefixed so the two blocks never collide. */
export interface Terms {
  words: string[];
  chars: string[];
}

export interface FeaturiserJSON {
  options: FeatureOptions;
  /** Number of training texts the document frequencies were counted over. */
  documents: number;
  /** Vocabulary, in index order. */
  terms: string[];
  /** Document frequency of each term, in index order. */
  df: number[];
}

/** A fitted featuriser: vocabulary, IDF and the options it was fitted with. */
export interface Featuriser {
  readonly options: Readonly<FeatureOptions>;
  readonly size: number;
  /** Non-zeros of the training texts' vectors (the sum of the kept terms' document frequencies): sizes their matrix. */
  readonly trainingNonZeros: number;
  /** The index of a term, or undefined when it was not in the training texts. */
  indexOf(term: string): number | undefined;
  /** The TF-IDF vector of an already normalised text; unknown terms are ignored. */
  transform(normalised: string): SparseVector;
  /** Same as transform, for terms already extracted with extractTerms(). */
  transformTerms(terms: Terms): SparseVector;
  toJSON(): FeaturiserJSON;
}

const HAN = /\p{Script=Han}/u;
const DIGIT = /\d/g;

function pushLatinChars(run: string, min: number, max: number, out: string[]): void {
  // Padded like sklearn's char_wb: n-grams at the edges of a word carry prefixes and suffixes.
  const padded = ` ${run} `;
  const len = padded.length;
  for (let n = min; n <= max; n++) {
    if (len <= n) {
      out.push('c' + padded);
      break;
    }
    for (let i = 0; i + n <= len; i++) out.push('c' + padded.slice(i, i + n));
  }
}

function pushHanChars(run: readonly string[], min: number, max: number, pairWindow: number, out: string[]): void {
  const len = run.length;
  for (let n = min; n <= max && n <= len; n++) {
    // Unigrams and bigrams (the default) without an array per term: this runs for every message routed.
    if (n === 1) for (let i = 0; i < len; i++) out.push('h' + run[i]);
    else if (n === 2) for (let i = 0; i + 1 < len; i++) out.push('h' + run[i] + run[i + 1]);
    else for (let i = 0; i + n <= len; i++) out.push('h' + run.slice(i, i + n).join(''));
  }
  for (let i = 0; i < len; i++) {
    for (let j = i + 2; j <= i + pairWindow && j < len; j++) out.push('q' + run[i] + run[j]);
  }
}

/** The raw terms of an already normalised text, before any vocabulary is applied. */
export function extractTerms(normalised: string, options: Readonly<FeatureOptions> = DEFAULT_FEATURE_OPTIONS): Terms {
  const text = options.foldDigits ? normalised.replace(DIGIT, '0') : normalised;
  const words: string[] = [];
  const chars: string[] = [];
  if (options.wordNgramMax > 0) {
    const ws = segmentWords(text);
    for (let n = 1; n <= options.wordNgramMax; n++) {
      for (let i = 0; i + n <= ws.length; i++) words.push('w' + (n === 1 ? ws[i] : n === 2 ? ws[i] + ' ' + ws[i + 1] : ws.slice(i, i + n).join(' ')));
    }
    for (let i = 0; i < ws.length; i++) {
      for (let j = i + 2; j <= i + options.wordPairWindow && j < ws.length; j++) words.push('p' + ws[i] + ' ' + ws[j]);
    }
  }
  const [lmin, lmax] = options.latinChars;
  const [hmin, hmax] = options.hanChars;
  if (lmax > 0 || hmax > 0) {
    for (const chunk of text.split(' ')) {
      if (chunk === '') continue;
      // Split the chunk into runs of Han and of everything else (Latin letters, digits, kept symbols).
      let latin = '';
      let han: string[] = [];
      const flushLatin = (): void => {
        if (latin !== '' && lmax > 0) pushLatinChars(latin, lmin, lmax, chars);
        latin = '';
      };
      const flushHan = (): void => {
        if (han.length > 0 && hmax > 0) pushHanChars(han, hmin, hmax, options.hanPairWindow, chars);
        han = [];
      };
      for (const ch of chunk) {
        if (HAN.test(ch)) {
          flushLatin();
          han.push(ch);
        } else {
          flushHan();
          latin += ch;
        }
      }
      flushLatin();
      flushHan();
    }
  }
  return { words, chars };
}

function countTerms(terms: readonly string[], vocab: ReadonlyMap<string, number>, counts: Map<number, number>): void {
  for (const t of terms) {
    const i = vocab.get(t);
    if (i !== undefined) counts.set(i, (counts.get(i) ?? 0) + 1);
  }
}

function buildFeaturiser(options: Readonly<FeatureOptions>, documents: number, terms: string[], df: number[]): Featuriser {
  const vocab = new Map<string, number>();
  for (let i = 0; i < terms.length; i++) vocab.set(terms[i]!, i);
  const idf = new Float64Array(terms.length);
  for (let i = 0; i < terms.length; i++) idf[i] = Math.log((1 + documents) / (1 + df[i]!)) + 1;

  const blockInto = (counts: Map<number, number>, weight: number, idx: number[], val: number[]): void => {
    if (counts.size === 0 || weight === 0) return;
    const start = val.length;
    let norm = 0;
    for (const [i, c] of counts) {
      const v = (options.sublinearTf ? 1 + Math.log(c) : c) * idf[i]!;
      idx.push(i);
      val.push(v);
      norm += v * v;
    }
    const scale = weight / Math.sqrt(norm);
    for (let k = start; k < val.length; k++) val[k]! *= scale;
  };

  const transformTerms = (t: Terms): SparseVector => {
    const wc = new Map<number, number>();
    const cc = new Map<number, number>();
    countTerms(t.words, vocab, wc);
    countTerms(t.chars, vocab, cc);
    const idx: number[] = [];
    const val: number[] = [];
    blockInto(wc, options.wordWeight, idx, val);
    blockInto(cc, options.charWeight, idx, val);
    return { indices: Int32Array.from(idx), values: Float32Array.from(val) };
  };

  let nonZeros = 0;
  for (const d of df) nonZeros += d;
  return {
    options,
    size: terms.length,
    trainingNonZeros: nonZeros,
    indexOf: (term) => vocab.get(term),
    transformTerms,
    transform: (normalised) => transformTerms(extractTerms(normalised, options)),
    toJSON: () => ({ options: { ...options }, documents, terms: [...terms], df: [...df] }),
  };
}

/** Fits vocabulary and IDF on already normalised training texts. */
export function fitFeaturiser(texts: readonly string[], options: Partial<FeatureOptions> = {}): Featuriser {
  const opts: FeatureOptions = { ...DEFAULT_FEATURE_OPTIONS, ...options };
  const dfCount = new Map<string, number>();
  for (const text of texts) {
    const t = extractTerms(text, opts);
    for (const term of new Set([...t.words, ...t.chars])) dfCount.set(term, (dfCount.get(term) ?? 0) + 1);
  }
  const terms: string[] = [];
  const df: number[] = [];
  for (const [term, n] of dfCount) {
    if (n >= opts.minDf) {
      terms.push(term);
      df.push(n);
    }
  }
  return buildFeaturiser(opts, texts.length, terms, df);
}

/**
 * Share of an already normalised text's words (as the word block segments them) that are not in the featuriser's
 * vocabulary: 0 when every word was seen in training, 1 when none was or the text has no words (0 always for a
 * featuriser without a word block, which has no word vocabulary to ask). Out-of-scope detection uses it: a query about something the bot was never
 * taught tends to bring words it never saw, which the classifiers cannot score and so cannot count against a topic.
 */
export function unknownWordShare(featuriser: Featuriser, normalised: string): number {
  if (featuriser.options.wordNgramMax < 1) return 0;
  const text = featuriser.options.foldDigits ? normalised.replace(DIGIT, '0') : normalised;
  const words = segmentWords(text);
  if (words.length === 0) return 1;
  let unknown = 0;
  for (const w of words) if (featuriser.indexOf('w' + w) === undefined) unknown++;
  return unknown / words.length;
}

/** Rebuilds a featuriser from toJSON() output; returns a reason string when the JSON is not one. */
export function loadFeaturiser(json: unknown): Featuriser | string {
  if (typeof json !== 'object' || json === null) return 'featuriser is not an object';
  const j = json as Partial<FeaturiserJSON>;
  if (typeof j.documents !== 'number' || !(j.documents >= 0)) return 'featuriser.documents is not a number';
  if (!Array.isArray(j.terms) || !j.terms.every((t) => typeof t === 'string')) return 'featuriser.terms is not a string array';
  if (!Array.isArray(j.df) || j.df.length !== j.terms.length || !j.df.every((d) => typeof d === 'number')) {
    return 'featuriser.df does not match featuriser.terms';
  }
  const o = j.options as Partial<FeatureOptions> | undefined;
  if (typeof o !== 'object' || o === null) return 'featuriser.options is missing';
  const opts: FeatureOptions = { ...DEFAULT_FEATURE_OPTIONS, ...o };
  const range = (r: unknown): boolean => Array.isArray(r) && r.length === 2 && r.every((x) => Number.isInteger(x) && x >= 0);
  if (!range(opts.latinChars) || !range(opts.hanChars) || !Number.isInteger(opts.wordNgramMax)) {
    return 'featuriser.options has bad n-gram ranges';
  }
  return buildFeaturiser(opts, j.documents, j.terms, j.df);
}

/** True when the text has at least one Han character (used to pick per-language defaults). */
export function isHanText(text: string): boolean {
  return HAN.test(text);
}
