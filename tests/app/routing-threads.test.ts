import { describe, it, expect, afterAll, beforeAll, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Worker } from 'node:worker_threads';
import type { KefuApp } from '../../src/app.ts';
import { scriptedRouter, startConversation, testConfig } from '../http/test-app.ts';
import { startedWorkers } from '../workers/recording-ts-worker.ts';

// Threads started are recorded, so a test can kill one as a crash would.
vi.mock('../../src/workers/ts-worker.ts', () => import('../workers/recording-ts-worker.ts'));
const { createApp } = await import('../../src/app.ts');

// The real engine on the mini pack, routed on a worker thread once the thread has the model.
describe('routing on worker threads', () => {
  let dir: string;
  const apps: KefuApp[] = [];
  const appWith = async (workers: number): Promise<KefuApp> => {
    const app = await createApp(
      testConfig({ packDir: 'tests/fixtures/packs/mini', modelDir: join(dir, 'models'), thresholdsFile: join(dir, 'thresholds.json'), router: { workers } }),
      { log: pino({ level: 'silent' }) },
    );
    apps.push(app);
    await app.loadModel();
    return app;
  };
  const ask = async (app: KefuApp, text: string) => {
    const c = await startConversation(app);
    const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().reply as { text: string; outcome: { outcome: string; topic: string | null } };
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kefu-routing-threads-'));
  });
  afterAll(async () => {
    for (const app of apps) await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers on the main thread while the thread loads, then on the thread, the same way', async () => {
    const app = await appWith(1);
    const before = await ask(app, '信用卡遺失了要怎麼掛失');
    await vi.waitFor(() => expect(app.routingThreads()).toBe(1), { timeout: 30_000, interval: 50 });
    // From now on the main thread's router is not asked: the thread answers.
    const local = vi.spyOn(app.router()!, 'route');
    const after = await ask(app, '信用卡遺失了要怎麼掛失');
    expect(after).toMatchObject({ text: before.text, outcome: { outcome: 'answer', topic: 'card.lost' } });
    expect((await ask(app, '我要找真人')).outcome).toMatchObject({ outcome: 'handoff', topic: 'human.agent' });
    expect(local).not.toHaveBeenCalled();
  });

  it('still answers when the routing thread dies, and routes on its replacement', async () => {
    const app = await appWith(1);
    await vi.waitFor(() => expect(app.routingThreads()).toBe(1), { timeout: 30_000, interval: 50 });
    const routingThreads = (): Worker[] => startedWorkers.filter((w) => w.name === 'kefu-routing').map((w) => w.worker);
    const dying = routingThreads().at(-1)!;
    const killed = dying.terminate();
    // Sent while the thread goes: answered all the same (by the main thread if the thread cannot).
    expect((await ask(app, '信用卡遺失了要怎麼掛失')).outcome).toMatchObject({ outcome: 'answer', topic: 'card.lost' });
    await killed;
    await vi.waitFor(() => expect(app.routingThreads()).toBe(1), { timeout: 30_000, interval: 50 });
    expect(routingThreads().at(-1)).not.toBe(dying);
    const local = vi.spyOn(app.router()!, 'route');
    expect((await ask(app, '信用卡遺失了要怎麼掛失')).outcome.topic).toBe('card.lost');
    expect(local).not.toHaveBeenCalled();
  });

  it('routes on the main thread a router put in service by hand, and with workers: 0', async () => {
    const threaded = await appWith(1);
    await vi.waitFor(() => expect(threaded.routingThreads()).toBe(1), { timeout: 30_000, interval: 50 });
    const byHand = scriptedRouter();
    const local = vi.spyOn(byHand, 'route');
    threaded.setRouter(byHand);
    expect(threaded.routingThreads()).toBe(0);
    expect((await ask(threaded, '信用卡遺失了要怎麼掛失')).text).toBe('回覆:信用卡遺失了要怎麼掛失');
    expect(local).toHaveBeenCalledOnce();

    const single = await appWith(0);
    expect(single.routingThreads()).toBe(0);
    expect((await ask(single, '信用卡遺失了要怎麼掛失')).outcome.topic).toBe('card.lost');
  });
});
