import { describe, it, expect } from 'vitest';
import { extractTerms, fitFeaturiser, loadFeaturiser, unknownWordShare, DEFAULT_FEATURE_OPTIONS } from '../../src/text/features.ts';
import { normalise } from '../../src/text/normalise.ts';

const texts = ['i lost my card', 'my card has not arrived', 'how do i top up', '信用卡遺失了', '我要查詢餘額'].map(normalise);

function norm(values: Float32Array): number {
  return Math.sqrt(values.reduce((s, v) => s + v * v, 0));
}

describe('extractTerms', () => {
  it('gives English words, word bigrams and padded character n-grams', () => {
    const t = extractTerms('lost card');
    expect(t.words).toEqual(expect.arrayContaining(['wlost', 'wcard', 'wlost card']));
    expect(t.chars).toEqual(expect.arrayContaining(['c l', 'cst ', 'c los', 'ccard ']));
  });

  it('gives Han character n-grams inside Han runs and keeps Latin runs apart', () => {
    const t = extractTerms(normalise('ATM卡被吞了'));
    expect(t.chars).toEqual(expect.arrayContaining(['h卡', 'h卡被', 'h被吞了', 'c atm ']));
    expect(t.chars.some((c) => c.includes('m卡'))).toBe(false);
  });

  it('folds digits only when asked', () => {
    expect(extractTerms('7 am', { ...DEFAULT_FEATURE_OPTIONS, foldDigits: true }).words).toContain('w0');
    expect(extractTerms('7 am').words).toContain('w7');
  });
});

describe('fitFeaturiser', () => {
  it('makes unit-length blocks and ignores unseen terms', () => {
    const f = fitFeaturiser(texts, { wordWeight: 1, charWeight: 0 });
    const v = f.transform(normalise('I lost my card'));
    expect(norm(v.values)).toBeCloseTo(1, 5);
    expect(f.transform('zzzz qqqq').indices.length).toBe(0);
  });

  it('gives Traditional and Simplified input the same vector', () => {
    const f = fitFeaturiser(texts);
    const a = f.transform(normalise('信用卡遺失了'));
    const b = f.transform(normalise('信用卡遗失了'));
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(Array.from(a.values)).toEqual(Array.from(b.values));
  });

  it('weighs rare terms above common ones (IDF)', () => {
    const f = fitFeaturiser(texts, { latinChars: [0, 0], hanChars: [0, 0], wordNgramMax: 1 });
    const v = f.transform('my card lost');
    const value = (term: string): number => v.values[Array.from(v.indices).indexOf(f.indexOf(term)!)]!;
    expect(value('wlost')).toBeGreaterThan(value('wmy'));
  });

  it('drops terms below minDf', () => {
    const all = fitFeaturiser(texts, { minDf: 1 });
    const pruned = fitFeaturiser(texts, { minDf: 2 });
    expect(pruned.size).toBeLessThan(all.size);
    expect(pruned.indexOf('wmy')).toBeDefined();
    expect(pruned.indexOf('wlost')).toBeUndefined();
  });

  it('round-trips through JSON', () => {
    const f = fitFeaturiser(texts);
    const g = loadFeaturiser(JSON.parse(JSON.stringify(f.toJSON())));
    if (typeof g === 'string') throw new Error(g);
    for (const t of [...texts, 'card 餘額']) {
      expect(Array.from(g.transform(t).values)).toEqual(Array.from(f.transform(t).values));
    }
  });

  it('reports why a JSON is not a featuriser', () => {
    expect(loadFeaturiser(null)).toMatch(/not an object/);
    expect(loadFeaturiser({ documents: 1, terms: ['a'], df: [], options: {} })).toMatch(/df/);
  });
});

describe('unknownWordShare', () => {
  const f = fitFeaturiser(['check my balance', 'lost my card', 'card balance'].map(normalise), { minDf: 1 });

  it('counts the words the vocabulary has never seen', () => {
    expect(unknownWordShare(f, normalise('check my card'))).toBe(0);
    expect(unknownWordShare(f, normalise('check the weather'))).toBeCloseTo(2 / 3, 12);
    expect(unknownWordShare(f, normalise('sing a song'))).toBe(1);
  });

  it('treats a text without words as unknown, and a featuriser without words as knowing nothing to ask', () => {
    expect(unknownWordShare(f, normalise('?!'))).toBe(1);
    const charsOnly = fitFeaturiser(['check my balance'], { wordNgramMax: 0, minDf: 1 });
    expect(unknownWordShare(charsOnly, normalise('sing a song'))).toBe(0);
  });

  it('asks the vocabulary kept after minDf, so a word seen once is unknown at minDf 2', () => {
    const f2 = fitFeaturiser(['check my balance', 'lost my card', 'card balance'].map(normalise), { minDf: 2 });
    expect(unknownWordShare(f2, normalise('my card'))).toBe(0);
    expect(unknownWordShare(f2, normalise('lost card'))).toBe(0.5);
  });
});
