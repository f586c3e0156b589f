import { describe, it, expect } from 'vitest';
import { createRouter, type RouterOptions } from '../../src/router/router.ts';
import type { Candidate } from '../../src/domain/types.ts';
import type { Topic } from '../../src/pack/pack-loader.ts';
import { DEFAULT_THRESHOLDS } from '../../src/config.ts';
import { normalise } from '../../src/text/normalise.ts';

const brand = { bot: '小福', bank: '測試銀行', insurer: '測試人壽', bank_hotline: '0800-1', life_hotline: '0800-2' };

function topic(id: string, extra: Partial<Topic> = {}): Topic {
  return {
    id, kind: 'faq', domain: 'bank', title: { 'zh-TW': `標題${id}` }, answer: { 'zh-TW': `答案${id}，請洽{bank_hotline}` },
    phrases: { 'zh-TW': ['x'] }, tags: [], related: [], entities: [], verify: false, handoff: false, source: { file: 'f.yaml', line: 1 },
    ...extra,
  };
}

const topics = [
  topic('card.lost'), topic('card.pay'), topic('account.balance', { kind: 'intent', verify: true }),
  topic('fraud.report', { kind: 'intent', handoff: true }), topic('human.agent', { kind: 'intent', handoff: true, domain: 'common' }),
];

// Fake brains answer from a table keyed by the normalised text, so each test states exactly what the brains saw.
function router(table: Record<string, { faq?: Candidate[]; nlu?: Candidate[] }>, over: Partial<RouterOptions> = {}) {
  const look = (t: string) => table[t] ?? {};
  return createRouter({
    faq: { faqs: [], search: (t) => look(t).faq ?? [], toJSON: () => { throw new Error('unused'); } },
    nlu: { understand: (t) => ({ candidates: look(t).nlu ?? [], outOfScope: 0, entities: [] }) },
    topics, thresholds: DEFAULT_THRESHOLDS, brand, locale: 'zh-TW', maxFallbacks: 2, ...over,
  });
}
const k = (s: string) => normalise(s);

describe('router', () => {
  it('answers from the FAQ brain when it is confident, before asking NLU', () => {
    const r = router({ [k('卡不見了')]: { faq: [{ topic: 'card.lost', confidence: 0.95 }], nlu: [{ topic: 'card.pay', confidence: 0.99 }] } });
    const o = r.route('卡不見了');
    expect(o).toMatchObject({ outcome: 'answer', topic: 'card.lost', brain: 'faq' });
    expect(o.reply).toBe('答案card.lost，請洽0800-1');
    expect(o.trace.rule).toBe('faq-confident');
  });

  it('answers from the NLU brain when FAQ is unsure and NLU is confident', () => {
    const r = router({ [k('餘額多少')]: { faq: [{ topic: 'card.pay', confidence: 0.2 }], nlu: [{ topic: 'account.balance', confidence: 0.9 }, { topic: 'card.pay', confidence: 0.05 }] } });
    const o = r.route('餘額多少');
    expect(o).toMatchObject({ outcome: 'answer', topic: 'account.balance', brain: 'nlu', needsVerification: true });
    expect(o.candidates[0]).toEqual({ topic: 'account.balance', confidence: 0.9 });
  });

  it('asks which one was meant when the top two are close', () => {
    const r = router({ [k('繳卡費')]: { nlu: [{ topic: 'card.pay', confidence: 0.48 }, { topic: 'card.lost', confidence: 0.42 }] } });
    const o = r.route('繳卡費');
    expect(o.outcome).toBe('clarify');
    expect(o.options.map((x) => x.topic)).toEqual(['card.pay', 'card.lost']);
    expect(o.options[0]?.title).toBe('標題card.pay');
  });

  it('falls back with suggestions when nothing is confident', () => {
    const r = router({ [k('天氣如何')]: { nlu: [{ topic: 'card.pay', confidence: 0.25 }, { topic: 'card.lost', confidence: 0.05 }] } });
    const o = r.route('天氣如何');
    expect(o).toMatchObject({ outcome: 'fallback', topic: null, brain: null });
    expect(o.options.map((x) => x.topic)).toEqual(['card.pay']);
  });

  it('hands off after repeated fallbacks', () => {
    const r = router({});
    expect(r.route('嗯嗯嗯', { consecutiveFallbacks: 0 }).outcome).toBe('fallback');
    const o = r.route('嗯嗯嗯', { consecutiveFallbacks: 1 });
    expect(o.outcome).toBe('handoff');
    expect(o.trace.rule).toBe('repeated-fallback');
  });

  it('hands off a handoff topic with its topic id', () => {
    const r = router({ [k('被盜刷了')]: { nlu: [{ topic: 'fraud.report', confidence: 0.9 }] } });
    expect(r.route('被盜刷了')).toMatchObject({ outcome: 'handoff', topic: 'fraud.report', brain: 'nlu' });
  });

  it('reaches a human in one step when asked explicitly, whatever the brains say', () => {
    const r = router({});
    for (const s of ['我要找真人', '轉人工', '真人客服', '我不要跟機器人講話', 'I want to talk to a human']) {
      expect(r.route(s)).toMatchObject({ outcome: 'handoff', topic: 'human.agent' });
    }
    expect(r.route('你是真人嗎').outcome).not.toBe('handoff');
  });

  it('refuses text over the length limit with a coded error', () => {
    const r = router({}, { maxTextLength: 10 });
    expect(() => r.route('一'.repeat(11))).toThrowError(expect.objectContaining({ code: 'KEFU_TEXT_TOO_LONG' }));
  });

  it('converts a Traditional answer for a Simplified-Chinese customer', () => {
    const r = router({ [k('卡丢了')]: { faq: [{ topic: 'card.lost', confidence: 0.95 }] } });
    expect(r.route('卡丢了', { consecutiveFallbacks: 0, locale: 'zh-CN' }).reply).toBe('答案card.lost，请洽0800-1');
  });

  it('times the whole route in the trace, brains included', () => {
    const r = createRouter({
      faq: { faqs: [], search: () => [], toJSON: () => { throw new Error('unused'); } },
      nlu: {
        understand: () => {
          const until = performance.now() + 5;
          while (performance.now() < until); // a brain that takes at least 5 ms
          return { candidates: [{ topic: 'card.lost', confidence: 0.9 }], outOfScope: 0, entities: [] };
        },
      },
      topics, thresholds: DEFAULT_THRESHOLDS, brand, locale: 'zh-TW', maxFallbacks: 2,
    });
    expect(r.route('卡不見了').trace.ms).toBeGreaterThanOrEqual(5);
  });

  it('falls back on empty input without calling the brains', () => {
    const o = router({}).route('？？！');
    expect(o).toMatchObject({ outcome: 'fallback', topic: null });
    expect(o.trace.rule).toBe('empty');
  });
});
