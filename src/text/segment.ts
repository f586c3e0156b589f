// Intl.Segmenter ships with Node's ICU, needs no dictionary download and, measured on MASSIVE zh-TW, beat
// @node-rs/jieba (whose dictionary is Simplified) for word features: see the README's "Segmentation" section.
const segmenter = new Intl.Segmenter('zh', { granularity: 'word' });

// Each brain (the FAQ index and the NLU classifier's parts) segments the same message in turn, and ICU's
// segmentation was the largest single cost of routing in bench:chat's profile, so the last result is kept.
let lastText: string | null = null;
let lastWords: readonly string[] = [];

/** Words of an already normalised text, punctuation and spaces dropped. The array is shared: do not change it. */
export function segmentWords(normalised: string): readonly string[] {
  if (normalised === lastText) return lastWords;
  const out: string[] = [];
  for (const s of segmenter.segment(normalised)) {
    if (s.isWordLike) out.push(s.segment);
  }
  lastText = normalised;
  lastWords = Object.freeze(out);
  return lastWords;
}
