import { describe, it, expect } from 'vitest';
import { normalise, foldWidth } from '../../src/text/normalise.ts';
import { segmentWords } from '../../src/text/segment.ts';

describe('normalise', () => {
  it('folds Traditional and Simplified to the same text', () => {
    expect(normalise('信用卡遺失了怎麼辦')).toBe(normalise('信用卡遗失了怎么办'));
    expect(normalise('網路銀行密碼忘記')).toBe(normalise('网络银行密码忘记'));
    expect(normalise('軟體')).toBe(normalise('软件'));
  });

  it('folds full-width letters, digits and punctuation to half-width', () => {
    expect(normalise('ＡＴＭ吃卡！！')).toBe('atm吃卡');
    expect(foldWidth('１２３４')).toBe('1234');
  });

  it('lower-cases English and drops emoji and punctuation', () => {
    expect(normalise('I lost my CARD... help?! 😭🙏')).toBe('i lost my card help');
  });

  it('keeps numbers, decimals, dates and amounts whole', () => {
    expect(normalise('利率3.5%嗎？')).toBe('利率3.5%吗');
    expect(normalise('NT$5,000')).toBe('nt$5000');
    expect(normalise('2024/01/02')).toBe('2024/01/02');
  });

  it('collapses whitespace and returns empty for pure punctuation', () => {
    expect(normalise('  你好   嗎 ')).toBe('你好 吗');
    expect(normalise('？？！！…')).toBe('');
  });
});

describe('segmentWords', () => {
  it('splits Chinese into words and keeps English words', () => {
    expect(segmentWords(normalise('我的信用卡遺失了'))).toContain('信用卡');
    expect(segmentWords('atm card retained')).toEqual(['atm', 'card', 'retained']);
  });
});
