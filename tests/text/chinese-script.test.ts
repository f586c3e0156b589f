import { describe, expect, it } from 'vitest';
import { toSimplified, toTraditional } from '../../src/text/chinese-script.ts';

describe('chinese-script', () => {
  it('converts Taiwan Traditional to Simplified, Taiwan phrases included', () => {
    expect(toSimplified('信用卡遺失了怎麼辦')).toBe('信用卡遗失了怎么办');
    expect(toSimplified('網路銀行')).toBe('网络银行');
    expect(toSimplified('計程車')).toBe('出租车');
  });

  it('converts Simplified to Taiwan Traditional, Taiwan phrases included', () => {
    expect(toTraditional('信用卡遗失了怎么办')).toBe('信用卡遺失了怎麼辦');
    expect(toTraditional('网络银行')).toBe('網路銀行');
    expect(toTraditional('出租车')).toBe('計程車');
  });

  it('leaves text without Chinese as it is, and gives the same answer on every call', () => {
    expect(toSimplified('ATM 2024/01/02 NT$5000')).toBe('ATM 2024/01/02 NT$5000');
    expect(toTraditional('hello')).toBe('hello');
    expect(toSimplified('帳單')).toBe(toSimplified('帳單'));
  });
});
