import type { Worker } from 'node:worker_threads';
import { vi } from 'vitest';

// The real module: importing it by its path here would get this mock back (and wait on itself).
const real = await vi.importActual<typeof import('../../src/workers/ts-worker.ts')>('../../src/workers/ts-worker.ts');

/** Every worker started through this module, with the name it was given: lets a test kill one as a crash would. */
export const startedWorkers: { name: string | undefined; worker: Worker }[] = [];

/**
 * Stands in for src/workers/ts-worker.ts in tests that kill threads:
 * `vi.mock('../../src/workers/ts-worker.ts', () => import('../workers/recording-ts-worker.ts'))`.
 */
export function startTsWorker(...args: Parameters<typeof real.startTsWorker>): Worker {
  const worker = real.startTsWorker(...args);
  startedWorkers.push({ name: args[1]?.name, worker });
  return worker;
}
