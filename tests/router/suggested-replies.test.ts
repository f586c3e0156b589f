import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { loadPack } from '../../src/pack/pack-loader.ts';
import { buildModel } from '../../src/model/build-model.ts';
import { createReplySuggester, type SuggestReplies } from '../../src/router/suggested-replies.ts';

const MINI = join(import.meta.dirname, '../fixtures/packs/mini');

describe('suggested replies', () => {
  let suggest: SuggestReplies;
  beforeAll(async () => {
    const pack = loadPack(MINI);
    const model = await buildModel(pack);
    const config = loadConfig({ overrides: { brand: { bank_hotline: '0800-111-222' } } });
    suggest = createReplySuggester({ faq: model.faq, topics: pack.topics, brand: config.brand, locale: 'zh-TW' });
  });

  it("offers the FAQ brain's best answers, best first, with the brand filled in", () => {
    const out = suggest('我的信用卡好像掉了', 2);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ topic: 'card.lost', title: '信用卡掛失', answer: '請立即撥打 0800-111-222 辦理掛失。' });
    expect(out[0]!.confidence).toBeGreaterThan(out[1]!.confidence);
    expect(out.every((s) => s.confidence >= 0 && s.confidence <= 1)).toBe(true);
  });

  it('answers in the conversation\'s script, and offers nothing for an empty text', () => {
    expect(suggest('卡费要怎么缴', 1, 'zh-CN')[0]).toMatchObject({ topic: 'card.pay', answer: '可透过网银、超商、自动扣缴缴款。' });
    expect(suggest('   ', 3)).toEqual([]);
  });
});
