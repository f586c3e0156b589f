import { describe, it, expect } from 'vitest';
import { extractEntities, parseChineseNumber } from '../../../src/brains/nlu/entities.ts';

const pick = (s: string) => extractEntities(s).map((e) => [e.type, e.value]);

describe('extractEntities', () => {
  it('reads amounts with units, Chinese numerals and thousands separators', () => {
    expect(pick('我想轉帳5萬元')).toEqual([['amount', '50000']]);
    expect(pick('我要借三萬五千元')).toEqual([['amount', '35000']]);
    expect(pick('ＮＴ＄５，０００')).toContainEqual(['amount', '5000']);
    expect(pick('刷了兩千塊')).toEqual([['amount', '2000']]);
  });

  it('does not take a bare number for an amount', () => {
    expect(pick('我的卡號後四碼1234').filter(([t]) => t === 'amount')).toEqual([]);
  });

  it('reads card types, preferring the longer name', () => {
    expect(pick('我的簽帳金融卡被ATM吃了')).toEqual([['card_type', 'debit_card']]);
    expect(pick('信用卡被盜刷')).toEqual([['card_type', 'credit_card']]);
    expect(pick('VISA 卡')).toEqual([['card_type', 'visa']]);
  });

  it('reads currencies and dates, absolute and relative', () => {
    expect(pick('今天美金匯率多少')).toEqual([['date', 'today'], ['currency', 'USD']]);
    expect(pick('2024/03/15 的交易')).toEqual([['date', '2024-03-15']]);
    expect(pick('3月5號刷的')).toEqual([['date', 'XXXX-03-05']]);
    expect(pick('上個月的帳單')).toEqual([['date', 'last_month']]);
    expect(pick('13月40日')).toEqual([]);
  });

  it('reads policy numbers but never a national ID', () => {
    expect(pick('保單號碼 AB12345678 的理賠進度')).toEqual([['policy_number', 'AB12345678']]);
    expect(pick('我的身分證 A123456789')).toEqual([]);
  });

  it('gives offsets into the text as typed', () => {
    const [e] = extractEntities('借我三萬元');
    expect(e).toMatchObject({ start: 2, end: 5, text: '三萬元' });
  });
});

describe('parseChineseNumber', () => {
  it('parses common numerals', () => {
    expect(parseChineseNumber('十')).toBe(10);
    expect(parseChineseNumber('兩百')).toBe(200);
    expect(parseChineseNumber('一萬兩千三百')).toBe(12300);
    expect(Number.isNaN(parseChineseNumber('天'))).toBe(true);
  });
});
