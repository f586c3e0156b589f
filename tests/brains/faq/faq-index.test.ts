import { describe, it, expect } from 'vitest';
import { buildFaqIndex, loadFaqIndex } from '../../../src/brains/faq/faq-index.ts';
import { normalise } from '../../../src/text/normalise.ts';

const n = normalise;
const faqs = {
  'card.lost': ['信用卡遺失了要怎麼掛失', '卡片不見了怎麼辦', '我的信用卡掉了', '掛失信用卡', '信用卡被偷了要停卡', '信用卡弄丟了'],
  'card.pay': ['信用卡費有哪些繳款方式', '卡費要怎麼繳', '可以去超商繳卡費嗎', '信用卡帳款自動扣繳', '繳信用卡費', '卡費繳款管道'],
  'branch.hours': ['分行營業時間', '銀行幾點開門', '分行幾點關門', '週末有營業嗎', '臨櫃服務時間', '銀行中午有休息嗎'],
};
const paraphrases = Object.entries(faqs).flatMap(([faq, qs]) => qs.map((q) => ({ faq, text: n(q) })));
const negatives = ['明天會下雨嗎', '台積電股價多少', '電費帳單怎麼繳', '推薦晚餐食譜', '手機被停話', '我要查存款餘額'].map((t) => ({ text: n(t), faq: null }));

describe('FAQ index', () => {
  const index = buildFaqIndex(paraphrases, negatives);

  it('finds the FAQ for an unseen paraphrase, in either script', () => {
    expect(index.search(n('信用卡不見了要掛失'))[0]?.topic).toBe('card.lost');
    expect(index.search(n('信用卡丢了怎么挂失'))[0]?.topic).toBe('card.lost');
    expect(index.search(n('卡費可以在超商繳嗎'))[0]?.topic).toBe('card.pay');
  });

  it('is more confident for a near-verbatim question than for an unrelated one', () => {
    const sure = index.search(n('分行的營業時間'))[0];
    const unsure = index.search(n('今天天氣好熱'))[0];
    expect(sure?.topic).toBe('branch.hours');
    expect(sure?.confidence ?? 0).toBeGreaterThan(0.5);
    expect(unsure?.confidence ?? 0).toBeLessThan(sure?.confidence ?? 0);
  });

  it('returns calibrated confidences in [0,1], best first', () => {
    const list = index.search(n('信用卡怎麼繳費'), 3);
    expect(list.length).toBeGreaterThan(0);
    for (const c of list) expect(c.confidence).toBeGreaterThanOrEqual(0), expect(c.confidence).toBeLessThanOrEqual(1);
    for (let i = 1; i < list.length; i++) expect(list[i - 1]!.confidence).toBeGreaterThanOrEqual(list[i]!.confidence);
  });

  it('finds nothing when no term is shared', () => {
    expect(index.search(n('xyz'))).toEqual([]);
  });

  it('round-trips through JSON with identical results', () => {
    const again = loadFaqIndex(JSON.parse(JSON.stringify(index.toJSON())));
    for (const q of ['卡不見了', '繳卡費', '幾點開門', '天氣']) expect(again.search(n(q))).toEqual(index.search(n(q)));
  });

  it('refuses JSON that is not an index', () => {
    expect(() => loadFaqIndex({ kind: 'other' })).toThrowError(expect.objectContaining({ code: 'KEFU_MODEL_INVALID' }));
    expect(() => loadFaqIndex({ kind: 'kefu-faq-index', version: 1, paraphrases: [{ faq: 1 }], calibration: { w: [], b: 0 } })).toThrowError(
      expect.objectContaining({ code: 'KEFU_MODEL_INVALID' }),
    );
  });
});
