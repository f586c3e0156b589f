import * as OpenCC from 'opencc-js';

// Each direction is a trie of the OpenCC dictionaries it needs, built per thread: Taiwan Traditional → Simplified is
// ~5 MB of heap, Simplified → Taiwan Traditional ~40 MB in hundreds of thousands of small objects, which every major
// GC of the thread then marks (on the chat server's main and routing threads, the GC threads' marking took the CPU
// routing needed: replies stalled for 100–150 ms). So each is built the first time it is used, and only once.
let traditionalToSimplified: ((text: string) => string) | null = null;
let simplifiedToTraditional: ((text: string) => string) | null = null;

/** Taiwan Traditional (with Taiwan phrases) → Simplified. */
export function toSimplified(text: string): string {
  const convert = (traditionalToSimplified ??= OpenCC.Converter({ from: 'twp', to: 'cn' }));
  return convert(text);
}

/** Simplified → Taiwan Traditional (with Taiwan phrases). */
export function toTraditional(text: string): string {
  const convert = (simplifiedToTraditional ??= OpenCC.Converter({ from: 'cn', to: 'twp' }));
  return convert(text);
}
