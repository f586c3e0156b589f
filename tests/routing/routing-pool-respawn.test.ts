import { describe, it, expect, vi, beforeAll, afterEach } from 'vitest';
import { pino } from 'pino';
import { DEFAULT_THRESHOLDS, loadConfig } from '../../src/config.ts';
import { buildModel, serializeModel } from '../../src/model/build-model.ts';
import { loadPack } from '../../src/pack/pack-loader.ts';
import type { RouterSpec } from '../../src/routing/routing-protocol.ts';
import type { RoutingPool } from '../../src/routing/routing-pool.ts';
import { startedWorkers } from '../workers/recording-ts-worker.ts';

// Threads started are recorded, so a test can kill one as a crash would.
vi.mock('../../src/workers/ts-worker.ts', () => import('../workers/recording-ts-worker.ts'));
const { createRoutingPool } = await import('../../src/routing/routing-pool.ts');

const config = loadConfig({ overrides: { packDir: 'tests/fixtures/packs/mini' } });
const state = { consecutiveFallbacks: 0 };

describe('routing pool when a thread dies', () => {
  let spec: RouterSpec;
  let pool: RoutingPool | null = null;
  beforeAll(async () => {
    const pack = loadPack(config.packDir);
    spec = { config, pack, model: serializeModel(await buildModel(pack)), thresholds: DEFAULT_THRESHOLDS };
  });
  afterEach(async () => {
    await pool?.close();
    pool = null;
    startedWorkers.length = 0;
  });

  it('fails what the dead thread held, starts another with the same router, and routes on it', async () => {
    pool = createRoutingPool({ size: 1, log: pino({ level: 'silent' }) });
    await pool.load(spec);
    expect(startedWorkers).toHaveLength(1);
    // Killed while a request waits on it (before the thread could answer, so the outcome is certain).
    const waiting = pool.route('信用卡遺失了要怎麼掛失', state);
    const killed = startedWorkers[0]!.worker.terminate();
    await expect(waiting).rejects.toThrow(/routing thread exited/);
    await killed;
    await vi.waitFor(() => expect(pool!.ready()).toBe(true), { timeout: 30_000, interval: 50 });
    expect(startedWorkers).toHaveLength(2);
    expect((await pool.route('信用卡遺失了要怎麼掛失', state)).topic).toBe('card.lost');
  });

  it('does not restart a thread that never got as far as a router', async () => {
    pool = createRoutingPool({ size: 1, log: pino({ level: 'silent' }) });
    const loading = pool.load(spec);
    await startedWorkers[0]!.worker.terminate();
    await expect(loading).rejects.toMatchObject({ code: 'KEFU_NOT_READY' });
    await new Promise((r) => setTimeout(r, 200));
    expect(startedWorkers).toHaveLength(1);
    expect(pool.ready()).toBe(false);
  });
});
