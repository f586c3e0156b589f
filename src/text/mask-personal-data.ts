// Personal data never reaches a log or the trainer inbox in clear. The patterns are Taiwan-first: national ID
// (one letter, 1 or 2, eight digits), resident certificate, mobile and landline numbers, card and account numbers.
const RULES: [RegExp, string][] = [
  [/[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, '[EMAIL]'],
  [/\b[A-Z][12489]\d{8}\b/gi, '[ID]'],
  [/\b[A-Z][A-D]\d{8}\b/gi, '[ID]'],
  // Card numbers: 13–19 digits, possibly grouped by spaces, dashes or dots.
  [/(?<!\w|\d\.|[A-Za-z0-9]-)\d{4}(?:[ .-]?\d{4}){2}[ .-]?\d{1,7}(?!\w|\.\d|-[A-Za-z0-9])/g, '[CARD]'],
  [/(?:\+?886[ -]?|\b0)9\d{2}[ -]?\d{3}[ -]?\d{3}\b/g, '[PHONE]'],
  [/\(?\b0[2-8]\)?[ -]?\d{3,4}[ -]?\d{4}\b/g, '[PHONE]'],
  // Any other long run of digits is most likely an account or policy number. Here and for cards: not inside a longer
  // token (a UUID's groups, ORDER-20241115000123), which is another system's id, nor a decimal's digits; a full stop
  // around it (No.012345678901, the end of a sentence) is punctuation.
  [/(?<!\w|\d\.|[A-Za-z0-9]-)\d{10,16}(?!\w|\.\d|-[A-Za-z0-9])/g, '[NUMBER]'],
];

// Account numbers written in groups with one separator (012-34-567890-1, 123 456 789012): 10 or more digits in all.
// Fewer are dates, times and amounts, which stay; so does a date beside a time (its separators differ). Groups
// inside a longer token (CUST-2024-000123, a UUID's 1234-4567-8901) are ids of a system, not a customer's number.
const GROUPED_DIGITS = /(?<!\w|\d\.|[A-Za-z0-9]-)\d{2,8}([ -])\d{1,8}(?:\1\d{1,8}){0,4}(?!\w|\.\d|-[A-Za-z0-9])/g;
const digitCount = (s: string): number => s.replace(/\D/g, '').length;

/** Replaces national IDs, phone, card and account numbers and e-mail addresses with placeholders. */
export function maskPersonalData(text: string): string {
  // Only full-width ASCII is folded (digits, letters, @ + - .), so the rest of the text stays exactly as typed.
  let out = text.replace(/[\uFF01-\uFF5E]/g, (ch) => (/[\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A\uFF20\uFF0B\uFF0D\uFF0E\uFF08\uFF09]/.test(ch) ? String.fromCharCode(ch.charCodeAt(0) - 0xfee0) : ch));
  for (const [re, label] of RULES) out = out.replace(re, label);
  return out.replace(GROUPED_DIGITS, (m) => (digitCount(m) >= 10 ? '[NUMBER]' : m));
}
