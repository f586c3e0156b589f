import { describe, it, expect } from 'vitest';
import { maskPersonalData, maskUrl } from '../../src/text/mask-personal-data.ts';

describe('maskPersonalData', () => {
  it('masks a Taiwanese national ID and resident certificate number', () => {
    expect(maskPersonalData('我的身分證是A123456789')).toBe('我的身分證是[ID]');
    expect(maskPersonalData('居留證 AC01234567')).toBe('居留證 [ID]');
  });

  it("masks a mainland resident ID, also one whose check character is X, and not another system's id around one", () => {
    expect(maskPersonalData('身份证号11010519491231002X。')).toBe('身份证号[ID]。');
    expect(maskPersonalData('身分證 11010519491231002x')).toBe('身分證 [ID]');
    expect(maskPersonalData('ID 110105194912310021 please')).toBe('ID [ID] please');
    expect(maskPersonalData('ORDER-11010519491231002X')).toBe('ORDER-11010519491231002X');
  });

  it('masks a URL after undoing its percent-encoding, as a browser sends an e-mail, a spaced number or Chinese text', () => {
    expect(maskUrl('/api/v1/nope?email=wang%40example.com')).toBe('/api/v1/nope?email=[EMAIL]');
    expect(maskUrl('/x?phone=0912%20345%20678&q=0912+345+678')).toBe('/x?phone=[PHONE]&q=[PHONE]');
    expect(maskUrl('/x?q=%E8%BA%AB%E5%88%86A123456789')).toBe('/x?q=身分[ID]');
    // Broken encoding is left as sent around what can be read.
    expect(maskUrl('/x/%E0%A4%A/A123456789')).toBe('/x/%E0%A4%A/[ID]');
    expect(maskUrl('/api/v1/conversations/0194f3a2-7c1b-7d2e-9f00-123456789abc/messages')).toBe('/api/v1/conversations/0194f3a2-7c1b-7d2e-9f00-123456789abc/messages');
  });

  it('masks mobile and landline numbers, also in full-width', () => {
    expect(maskPersonalData('手機 0912-345-678 找我')).toBe('手機 [PHONE] 找我');
    expect(maskPersonalData('+886 912 345 678')).toBe('[PHONE]');
    expect(maskPersonalData('家裡電話(02)2345-6789')).toBe('家裡電話[PHONE]');
    expect(maskPersonalData('０９１２３４５６７８')).toBe('[PHONE]');
  });

  it('masks card numbers, account numbers and e-mail', () => {
    expect(maskPersonalData('卡號4311 2345 6789 0123')).toBe('卡號[CARD]');
    expect(maskPersonalData('帳號 012345678901')).toBe('帳號 [NUMBER]');
    expect(maskPersonalData('寄到 wang.ming@example.com.tw')).toBe('寄到 [EMAIL]');
    // Written in groups, as on a passbook or a card.
    expect(maskPersonalData('帳號 012-34-567890-1 請查')).toBe('帳號 [NUMBER] 請查');
    expect(maskPersonalData('轉到 123 456 789012')).toBe('轉到 [NUMBER]');
    expect(maskPersonalData('卡號 4311.2345.6789.0123')).toBe('卡號 [CARD]');
    // Account and policy numbers with a long group, or grouped with dots; a numbered list of them.
    for (const said of ['012-3456789012-3', '1234567890-01', '012.34.567890.1', '123.456.789012', '0912，345，678']) expect(maskPersonalData(`帳號 ${said}`), said).toMatch(/^帳號 \[(NUMBER|PHONE)\]$/);
    expect(maskPersonalData('帳號 1.012345678901 2.098765432109')).not.toMatch(/\d{4}/);
    // A full stop beside the number is punctuation, not a decimal point.
    expect(maskPersonalData('帳號No.012345678901')).toBe('帳號No.[NUMBER]');
    expect(maskPersonalData('我的帳號是012345678901。卡號4311 2345 6789 0123.')).toBe('我的帳號是[NUMBER]。卡號[CARD].');
  });

  it('leaves amounts, dates and ordinary text alone', () => {
    const s = '我想轉帳5萬元，2024/03/15 的帳單';
    expect(maskPersonalData(s)).toBe(s);
    for (const kept of ['2024-03-15 10 30 到期', '利率 2.35 年期 20', '分 3 期 12 個月', '餘額 1,234,567 元', '版本 1.2.3', 'NT$ 12345678.90', '合計 NT$1,234,567,890', '我轉了 30000、20000 元', '12:30、13:45、50000元']) {
      expect(maskPersonalData(kept)).toBe(kept);
    }
  });

  it("leaves other systems' ids alone: a bank's customer ids and UUIDs are not a customer's account number", () => {
    for (const id of ['CUST-2024-000123', '0f1e2d3c-1234-4567-8901-abcdefabcdef', 'order-123-4567-890']) expect(maskPersonalData(id)).toBe(id);
    let changed = 0;
    for (let i = 0; i < 20_000; i++) {
      const id = crypto.randomUUID();
      if (maskPersonalData(id) !== id) changed++;
    }
    expect(changed).toBe(0);
  });

  it("leaves alone the UUIDs that look most like a customer's numbers: all digits, or a last group that reads as a phone", () => {
    // Each of these was masked (found among random UUIDs, about 7 in 10 million): a phone's +886 with no boundary
    // before it, and 32 grouped digits taken for an account number.
    const digits = (n: number, seed: number): string => Array.from({ length: n }, (_, i) => String((seed * 7919 + i * 104729) % 10)).join('');
    const ids = ['0f1e2d3c-1234-4567-8901-886953959513', '69992178-8999-4451-8824-077536329391', 'a1b2c3d4-0000-4000-8000-0912345678ab', 'a1b2c3d4-0000-4000-8000-02234567890f'];
    for (let seed = 0; seed < 2_000; seed++) ids.push([digits(8, seed), digits(4, seed + 1), digits(4, seed + 2), digits(4, seed + 3), digits(12, seed + 4)].join('-'));
    for (const tail of ['886953959513', '088695395951', '091234567890', '022345678901']) ids.push(`0f1e2d3c-1234-4567-8901-${tail}`);
    expect(ids.filter((id) => maskPersonalData(id) !== id)).toEqual([]);
    // What a customer writes is still masked, as before.
    expect(maskPersonalData('我的手機+886912345678，市話(02)2345-6789，帳號 123-4567-8901-2345-6789')).toBe('我的手機[PHONE]，市話[PHONE]，帳號 [NUMBER]');
    // A label and a hyphen before or after a phone number do not make it an id.
    for (const [typed, masked] of [
      ['Tel-0912345678', 'Tel-[PHONE]'], ['TEL-02-2712-3456', 'TEL-[PHONE]'], ['LINE-0912345678', 'LINE-[PHONE]'], ['M-0912 345 678', 'M-[PHONE]'],
      ['0912-345-678-Amy', '[PHONE]-Amy'], ['02-2712-3456-ext', '[PHONE]-ext'], ['0912-345-678-0922-333-444', '[NUMBER]'],
    ]) expect(maskPersonalData(typed!)).toBe(masked);
  });
});
