import * as OpenCC from 'opencc-js';

// Fold Taiwan Traditional (with Taiwan phrases, twp) to Simplified: measured best for matching 简体 input
// against a 繁體 pack and the reverse; the other direction is lossy (one 简 character maps to several 繁).
const toSimplified = OpenCC.Converter({ from: 'twp', to: 'cn' });

const EMOJI = /[\p{Extended_Pictographic}\u{1F3FB}-\u{1F3FF}\u{FE0F}\u{200D}]/gu;
// Punctuation and symbols separate words; currency and percent are kept because amounts and rates depend on them.
const PUNCT = /[\p{P}\p{S}]/gu;
const KEEP = new Set(['$', '%', '.', '/', '-', '+']);
const SPACES = /\s+/g;

/** Width and compatibility folding only (全形→半形), used where digits and letters must survive as typed (entities). */
export function foldWidth(text: string): string {
  return text.normalize('NFKC');
}

/**
 * The one normalisation every brain and every pack phrase goes through:
 * NFKC width folding, lower case, emoji removed, punctuation to spaces, Traditional → Simplified.
 */
export function normalise(text: string): string {
  // Thousands separators go first so that NT$5,000 stays one number.
  const folded = foldWidth(text).toLowerCase().replace(EMOJI, ' ').replace(/(\d),(?=\d{3}\b)/g, '$1');
  const unpunct = folded.replace(PUNCT, (ch) => (KEEP.has(ch) ? ch : ' '));
  // Dots, slashes and dashes only matter between digits (3.5%, 2024/01/02); elsewhere they are punctuation.
  const cleaned = unpunct.replace(/(?<!\d)[./-]|[./-](?!\d)/g, ' ');
  return toSimplified(cleaned).replace(SPACES, ' ').trim();
}

const CJK = /\p{Script=Han}/u;

/** True when the text contains Chinese characters. */
export function hasHan(text: string): boolean {
  return CJK.test(text);
}
