import { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';

// A checkpoint thread that starts, then dies on its own (a crash, a resource limit) before anyone stops it.
vi.mock('../../src/workers/ts-worker.ts', () => ({
  startTsWorker: () =>
    new Worker("require('node:worker_threads').parentPort.postMessage({ type: 'started' }); setTimeout(() => process.exit(3), 20);", { eval: true }),
}));

const { createWalState, startCheckpointer } = await import('../../src/store/sqlite-checkpointer.ts');

describe('a checkpoint thread that has died', () => {
  it('is stopped at once: a shutdown does not wait for an exit that already happened', async () => {
    const checkpointer = await startCheckpointer('/nonexistent/kefu.sqlite', { log: pino({ level: 'silent' }), walState: createWalState() });
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    await checkpointer.stop();
    expect(performance.now() - started).toBeLessThan(1_000);
  }, 10_000);
});
