import type { Entity } from '../../domain/types.ts';
import { foldWidth } from '../../text/normalise.ts';

// Entities are read from the text as typed (only width-folded), not from the normalised form, because the
// normalised form drops punctuation that amounts and dates need and converts script, which shifts nothing here
// but would make offsets meaningless to the agent console that highlights them.

const CARD_TYPES: [RegExp, string][] = [
  [/簽帳金融卡|debit\s*card|金融卡|提款卡|debit/giu, 'debit_card'],
  [/信用卡|credit\s*card|卡費/giu, 'credit_card'],
  [/visa/giu, 'visa'],
  [/master\s*card|萬事達/giu, 'mastercard'],
  [/jcb/giu, 'jcb'],
  [/美國運通|american\s*express|amex/giu, 'amex'],
  [/銀聯|银联|union\s*pay/giu, 'unionpay'],
];

const CURRENCIES: [RegExp, string][] = [
  [/美金|美元|usd|us\$/giu, 'USD'],
  [/日圓|日圓|日幣|日币|日元|jpy/giu, 'JPY'],
  [/歐元|欧元|eur(?:o)?/giu, 'EUR'],
  [/人民幣|人民币|rmb|cny/giu, 'CNY'],
  [/港幣|港币|hkd/giu, 'HKD'],
  [/英鎊|英镑|gbp/giu, 'GBP'],
  [/澳幣|澳币|aud/giu, 'AUD'],
  [/新台幣|新臺幣|台幣|臺幣|twd|nt\$/giu, 'TWD'],
];

const CN_DIGITS: Record<string, number> = { 零: 0, 〇: 0, 一: 1, 二: 2, 兩: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };
const CN_UNITS: Record<string, number> = { 十: 10, 百: 100, 千: 1000, 萬: 10_000, 万: 10_000, 億: 100_000_000, 亿: 100_000_000 };

/** Parses a Chinese numeral such as 三萬五千 or 兩百; NaN when it is not one. */
export function parseChineseNumber(s: string): number {
  let total = 0;
  let section = 0;
  let digit = 0;
  let seen = false;
  for (const ch of s) {
    if (ch in CN_DIGITS) {
      digit = CN_DIGITS[ch] ?? 0;
      seen = true;
    } else if (ch in CN_UNITS) {
      const unit = CN_UNITS[ch] ?? 1;
      if (unit >= 10_000) {
        total += (section + digit) * unit;
        section = 0;
      } else {
        section += (digit === 0 && !seen ? 1 : digit) * unit;
      }
      digit = 0;
      seen = true;
    } else return Number.NaN;
  }
  return seen ? total + section + digit : Number.NaN;
}

const AMOUNT =
  /(?<cur>nt\$|\$|新台幣|新臺幣|台幣|臺幣|美金|美元|usd)?\s*(?<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[零〇一二兩两三四五六七八九十百千萬万億亿]+)\s*(?<mult>萬|万|千|k|億|亿)?\s*(?<unit>元|塊|块|圓|dollars?|美金|美元)?/giu;

const DATE_ABS = /(?<y>\d{4})[/.-](?<m>\d{1,2})[/.-](?<d>\d{1,2})|(?:(?<y2>\d{4})年)?(?<m2>\d{1,2})月(?:(?<d2>\d{1,2})[日號号])?/gu;
const DATE_REL: [RegExp, string][] = [
  [/今天|今日|today/giu, 'today'],
  [/明天|明日|tomorrow/giu, 'tomorrow'],
  [/昨天|昨日|yesterday/giu, 'yesterday'],
  [/這個月|这个月|本月|這期|这期|本期|this month/giu, 'this_month'],
  [/上個月|上个月|上期|last month/giu, 'last_month'],
  [/下個月|下个月|下期|next month/giu, 'next_month'],
];

// Taiwan policy numbers are letters then digits; a national ID (one letter, then 1 or 2, then 8 digits) is
// personal data and deliberately not taken as a policy number.
const POLICY = /(?:保單|保单)(?:號碼|号码|編號|编号)?\s*[:：]?\s*(?<a>[a-z0-9-]{6,20})|\b(?<b>[a-z]{2,3}\d{6,12})\b/giu;

function pushAll(out: Entity[], text: string, re: RegExp, type: string, value: (m: RegExpExecArray) => string | null): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[0].trim() === '') {
      re.lastIndex++;
      continue;
    }
    const v = value(m);
    if (v !== null) out.push({ type, value: v, text: m[0].trim(), start: m.index, end: m.index + m[0].length });
  }
}

/** Finds card types, currencies, amounts, dates and policy numbers in a customer's message. */
export function extractEntities(raw: string): Entity[] {
  const text = foldWidth(raw);
  const out: Entity[] = [];
  for (const [re, v] of CARD_TYPES) pushAll(out, text, re, 'card_type', () => v);
  for (const [re, v] of CURRENCIES) pushAll(out, text, re, 'currency', () => v);
  pushAll(out, text, AMOUNT, 'amount', (m) => {
    const g = m.groups ?? {};
    // A bare number is not an amount (it may be a date, a count or an account number): it needs a currency or unit.
    if (!g.cur && !g.unit && !g.mult) return null;
    const n = /^\d/.test(g.num ?? '') ? Number((g.num ?? '').replace(/,/g, '')) : parseChineseNumber(g.num ?? '');
    if (!Number.isFinite(n)) return null;
    const mult = g.mult ? ({ 萬: 1e4, 万: 1e4, 千: 1e3, k: 1e3, K: 1e3, 億: 1e8, 亿: 1e8 } as Record<string, number>)[g.mult] ?? 1 : 1;
    return String(Math.round(n * mult * 100) / 100);
  });
  pushAll(out, text, DATE_ABS, 'date', (m) => {
    const g = m.groups ?? {};
    const y = g.y ?? g.y2;
    const mo = Number(g.m ?? g.m2);
    const d = g.d ?? g.d2;
    if (mo < 1 || mo > 12 || (d !== undefined && (Number(d) < 1 || Number(d) > 31))) return null;
    const mm = String(mo).padStart(2, '0');
    const dd = d === undefined ? undefined : String(Number(d)).padStart(2, '0');
    return [y ?? 'XXXX', mm, dd].filter((x) => x !== undefined).join('-');
  });
  for (const [re, v] of DATE_REL) pushAll(out, text, re, 'date', () => v);
  pushAll(out, text, POLICY, 'policy_number', (m) => {
    const v = (m.groups?.a ?? m.groups?.b ?? '').toUpperCase();
    return /\d{4}/.test(v) ? v : null;
  });
  return dropOverlaps(out);
}

// When two entities cover the same characters the longer one wins (「簽帳金融卡」 over 「金融卡」).
function dropOverlaps(list: Entity[]): Entity[] {
  const sorted = [...list].sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept: Entity[] = [];
  for (const e of sorted) {
    if (!kept.some((k) => k.type === e.type && e.start < k.end && k.start < e.end)) kept.push(e);
  }
  return kept.sort((a, b) => a.start - b.start);
}
