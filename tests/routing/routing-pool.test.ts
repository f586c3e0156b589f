import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { routerFor } from '../../src/engine.ts';
import { buildModel, serializeModel, type KefuModel } from '../../src/model/build-model.ts';
import { loadPack, type Pack } from '../../src/pack/pack-loader.ts';
import { createRoutingPool, type RoutingPool } from '../../src/routing/routing-pool.ts';
import type { RouterSpec } from '../../src/routing/routing-protocol.ts';
import type { Outcome } from '../../src/domain/types.ts';
import { DEFAULT_THRESHOLDS } from '../../src/config.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const config = loadConfig({ overrides: { packDir: 'tests/fixtures/packs/mini', router: { maxTextLength: 100 } } });
const state = { consecutiveFallbacks: 0 };
// The time a route took differs between two runs of the same route; everything else must not.
const withoutTime = (o: Outcome): unknown => ({ ...o, trace: { ...o.trace, ms: 0 } });

describe('routing pool (routers on worker threads)', () => {
  let pack: Pack;
  let model: KefuModel;
  let spec: RouterSpec;
  let pool: RoutingPool | null = null;
  beforeAll(async () => {
    pack = loadPack(config.packDir);
    model = await buildModel(pack);
    spec = { config, pack, model: serializeModel(model), thresholds: DEFAULT_THRESHOLDS };
  });
  afterEach(async () => {
    await pool?.close();
    pool = null;
  });

  it('routes exactly as the same router does on the main thread, many requests at once', async () => {
    pool = createRoutingPool({ size: 2, log });
    expect(pool.ready()).toBe(false);
    await expect(pool.route('信用卡不見了', state)).rejects.toMatchObject({ code: 'KEFU_NOT_READY' });
    await pool.load(spec);
    expect(pool.ready()).toBe(true);
    const local = routerFor(config, pack, model, DEFAULT_THRESHOLDS);
    const texts = ['信用卡遺失了要怎麼掛失', '我要找真人', '今天天氣如何', '卡', '', 'card lost', '信用卡不見了 NT$5,000'];
    const many = Array.from({ length: 60 }, (_, i) => texts[i % texts.length] ?? '');
    const remote = await Promise.all(many.map((t) => pool!.route(t, { consecutiveFallbacks: 1, locale: 'zh-TW' })));
    expect(remote.map(withoutTime)).toEqual(many.map((t) => withoutTime(local.route(t, { consecutiveFallbacks: 1, locale: 'zh-TW' }))));
    expect(remote[0]).toMatchObject({ outcome: 'answer', topic: 'card.lost' });
  });

  it('answers a large batch in parts, so the first answers do not wait for the last to be routed', async () => {
    pool = createRoutingPool({ size: 1, log });
    await pool.load(spec);
    // Event-loop turns on this thread, counted while the batch is routed: answers that come in one message all
    // settle in the same turn.
    let turn = 0;
    let counting = true;
    const count = (): void => {
      turn++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const texts = Array.from({ length: 1500 }, (_, i) => (i % 2 ? '信用卡遺失了要怎麼掛失' : '今天美金匯率多少'));
    const turns = await Promise.all(texts.map((t) => pool!.route(t, state).then((o) => (expect(o.topic).not.toBeNull(), turn))));
    counting = false;
    expect(turns[0]).toBeLessThan(turns[turns.length - 1]!);
    expect(new Set(turns).size).toBeGreaterThan(1);
  });

  it("gives back the router's own errors as coded errors, and keeps serving", async () => {
    pool = createRoutingPool({ size: 1, log });
    await pool.load(spec);
    await expect(pool.route('長'.repeat(101), state)).rejects.toMatchObject({ code: 'KEFU_TEXT_TOO_LONG', message: 'Text is longer than 100 characters' });
    expect((await pool.route('信用卡遺失了要怎麼掛失', state)).topic).toBe('card.lost');
  });

  it('fails only the request that cannot cross to the thread, not the others sent with it', async () => {
    pool = createRoutingPool({ size: 1, log });
    await pool.load(spec);
    const odd = { consecutiveFallbacks: 0, locale: 'zh-TW', extra: () => 0 } as unknown as typeof state;
    const [good, bad] = await Promise.allSettled([pool.route('信用卡遺失了要怎麼掛失', state), pool.route('卡', odd)]);
    expect(good).toMatchObject({ status: 'fulfilled', value: { topic: 'card.lost' } });
    expect(bad).toMatchObject({ status: 'rejected', reason: { name: 'DataCloneError' } });
  });

  it('puts a newly loaded router in service for the requests after it', async () => {
    pool = createRoutingPool({ size: 1, log });
    await pool.load(spec);
    expect((await pool.route('信用卡遺失了要怎麼掛失', state)).outcome).toBe('answer');
    // Thresholds no answer can reach: the same text now falls back.
    await pool.load({ ...spec, thresholds: { faq: 1, nlu: 1, clarifyMargin: 0, clarifyMin: 1 } });
    expect((await pool.route('信用卡遺失了要怎麼掛失', state)).outcome).toBe('fallback');
  });

  it('refuses a model it cannot use with KEFU_MODEL_INVALID and keeps the router it had', async () => {
    pool = createRoutingPool({ size: 1, log });
    await pool.load(spec);
    const broken = { ...spec, model: { ...spec.model, nlu: { kind: 'something else' } } } as unknown as RouterSpec;
    await expect(pool.load(broken)).rejects.toMatchObject({ code: 'KEFU_MODEL_INVALID' });
    expect((await pool.route('信用卡遺失了要怎麼掛失', state)).topic).toBe('card.lost');
  });

  it('fails what is still waiting when it closes, and refuses work afterwards', async () => {
    pool = createRoutingPool({ size: 1, log });
    await pool.load(spec);
    const waiting = pool.route('信用卡遺失了要怎麼掛失', state);
    const closed = pool.close();
    await expect(waiting).rejects.toMatchObject({ code: 'KEFU_NOT_READY' });
    await closed;
    expect(pool.ready()).toBe(false);
    await expect(pool.load(spec)).rejects.toMatchObject({ code: 'KEFU_NOT_READY' });
  });
});
