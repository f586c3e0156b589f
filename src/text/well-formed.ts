import { KefuError } from '../errors.ts';

// A NUL, or half of a surrogate pair: no customer types either, PostgreSQL refuses both in text (and SQLite would
// store the half as U+FFFD, so the message kept would differ from the one acknowledged).
const ILL_FORMED = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path of the first string in `value` holding a NUL or a lone surrogate (`where` names the root); null when none does. */
export function illFormedTextAt(value: unknown, where: string, depth = 0): string | null {
  if (typeof value === 'string') return ILL_FORMED.test(value) ? where : null;
  if (value === null || typeof value !== 'object' || depth > 16) return null;
  for (const [key, v] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    const found = illFormedTextAt(v, `${where}.${key}`, depth + 1);
    if (found) return found;
  }
  return null;
}

/** Refuses input with a NUL or a lone surrogate in any string, with KEFU_VALIDATION naming where. */
export function assertWellFormedText(value: unknown, where: string): void {
  const at = illFormedTextAt(value, where);
  if (at) throw new KefuError('KEFU_VALIDATION', [`${at}: contains a NUL character or half of a surrogate pair`]);
}
