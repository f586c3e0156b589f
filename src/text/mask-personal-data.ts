// Personal data never reaches a log or the trainer inbox in clear. The patterns are Taiwan-first: national ID
// (one letter, 1 or 2, eight digits), resident certificate, mobile and landline numbers, card and account numbers;
// and the mainland's 18-character resident ID.
// A number inside a longer token (a UUID's groups, ORDER-20241115000123, CUST-2024-000123) is another system's id,
// not a customer's: nothing masked may touch a letter or digit, directly or across a hyphen.
const BEFORE = String.raw`(?<!\w|[A-Za-z0-9]-)`;
const AFTER = String.raw`(?!\w|-[A-Za-z0-9])`;
// A phone number is often written after a label and a hyphen (Tel-0912345678, LINE-0912…, TEL-02-2712-3456) or
// before one (…-Amy): across a hyphen only a token with a digit in it makes it part of another system's id.
const PHONE_BEFORE = String.raw`(?<!\w|[A-Za-z0-9]*\d[A-Za-z0-9]*-)`;
const PHONE_AFTER = String.raw`(?!\w|-[A-Za-z0-9]*\d)`;
// Between digit groups: a space (also the ideographic one a Chinese keyboard types), a dot or a dash.
const SEP = String.raw`[ .\u3000-]`;

const RULES: [RegExp, string][] = [
  [/[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, '[EMAIL]'],
  [/\b[A-Z][12489]\d{8}\b/gi, '[ID]'],
  [/\b[A-Z][A-D]\d{8}\b/gi, '[ID]'],
  // Mainland resident ID: region, birth date, sequence and a check character that is X one time in eleven (the
  // all-digit ones would otherwise be masked only by chance, as a card number).
  [new RegExp(String.raw`${BEFORE}[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]${AFTER}`, 'g'), '[ID]'],
  // Card numbers: 13–19 digits, possibly grouped.
  [new RegExp(String.raw`${BEFORE}\d{4}(?:${SEP}?\d{4}){2}${SEP}?\d{1,7}${AFTER}`, 'g'), '[CARD]'],
  // Mobile numbers, also grouped with commas (0912,345,678): with 09 in front they are no amount.
  [new RegExp(String.raw`${PHONE_BEFORE}(?:\+?886[ \u3000-]?|0)9\d{2}[ ,\uFF0C\u3000-]?\d{3}[ ,\uFF0C\u3000-]?\d{3}${PHONE_AFTER}`, 'g'), '[PHONE]'],
  [new RegExp(String.raw`${PHONE_BEFORE}(?:\(0[2-8]\)|0[2-8])[ \u3000-]?\d{3,4}[ \u3000-]?\d{4}${PHONE_AFTER}`, 'g'), '[PHONE]'],
  // Any other long run of digits is most likely an account or policy number.
  [new RegExp(String.raw`${BEFORE}\d{10,16}${AFTER}`, 'g'), '[NUMBER]'],
];

// Account and policy numbers written in groups with one separator (012-34-567890-1, 1234567890-01, 123 456 789012,
// 012.34.567890.1): 10 to 20 digits in all. Fewer are dates, times and amounts, which stay; so does a date beside
// a time (their separators differ), and two groups with a dot (12345678.90), which are an amount. More are another
// system's id (a UUID of digits only is 32), as the ungrouped runs of over 16 above.
const GROUPED_DIGITS = new RegExp(String.raw`${BEFORE}\d{2,16}(${SEP})\d{1,16}(?:\1\d{1,16}){0,4}${AFTER}`, 'g');
const groupedNumber = (m: string, sep: string): string => {
  const digits = m.replace(/\D/g, '').length;
  return digits >= 10 && digits <= 20 && (sep !== '.' || m.split('.').length >= 3) ? '[NUMBER]' : m;
};

/** Replaces national IDs, phone, card and account numbers and e-mail addresses with placeholders. */
export function maskPersonalData(text: string): string {
  // Only full-width ASCII is folded (digits, letters, @ + - .), so the rest of the text stays exactly as typed.
  let out = text.replace(/[\uFF01-\uFF5E]/g, (ch) => (/[\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A\uFF20\uFF0B\uFF0D\uFF0E\uFF08\uFF09]/.test(ch) ? String.fromCharCode(ch.charCodeAt(0) - 0xfee0) : ch));
  for (const [re, label] of RULES) out = out.replace(re, label);
  return out.replace(GROUPED_DIGITS, groupedNumber);
}

/**
 * A URL as a log may show it: percent-encoding undone first (a browser sends an e-mail's @ as %40, a Chinese word as
 * %E8…, and the masking patterns read text), then personal data masked; shown decoded.
 */
export function maskUrl(url: string): string {
  const decoded = url.replace(/\+/g, ' ').replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run; // not UTF-8: left as sent
    }
  });
  return maskPersonalData(decoded);
}
