import type { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import { startTsWorker } from '../workers/ts-worker.ts';

/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the COMMIT that crosses its
 * threshold: it copies the WAL into the database file and fsyncs both, and on the chat server's store thread every
 * turn waited for it, tens to hundreds of milliseconds every few seconds on this machine's disk (bench:chat's reply
 * p99 at 2,000 messages/s). Here a second connection copies pages on a timer without blocking the store, and
 * restarts the WAL (holding the store back only for the last few frames) once it has grown past `restartFrames`.
 * The store's own connection keeps an automatic checkpoint only as a backstop far above that.
 */
export interface Checkpointer {
  /** Checkpoints run so far, by mode (for tests and logs). */
  readonly runs: { passive: number; restart: number };
  /** Runs a last checkpoint and stops the thread. */
  stop(): Promise<void>;
}

/** What the checkpoint thread is started with. */
export interface CheckpointerData {
  path: string;
  intervalMs: number;
  restartFrames: number;
  /** A checkpoint longer than this is logged (the disk is slow). */
  slowMs: number;
}

/** Checkpoint thread → main thread. */
export type FromCheckpointThread =
  | { type: 'started' }
  | { type: 'checkpointed'; mode: 'PASSIVE' | 'RESTART'; frames: number; walFrames: number; ms: number }
  | { type: 'slow'; mode: 'PASSIVE' | 'RESTART'; ms: number; frames: number }
  | { type: 'failed'; message: string };

/** WAL pages the store's own connection lets pile up before it checkpoints itself (128 MB at 4 KB pages). */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 32_768;

/**
 * Defaults, from bench:chat at 2,000 messages/s on this machine's disk: a passive pass every 100 ms keeps up with
 * the WAL; a RESTART pauses the store for ~30–40 ms (two fsyncs, whatever is left to copy), so it is done once the
 * WAL reaches ~64 MB rather than every 16 MB (27 pauses of 39 ms in 20 s instead of 91 of 28 ms; reply p99 the same
 * within noise, the store held back less than half as long).
 */
export const CHECKPOINT_DEFAULTS = { intervalMs: 100, restartFrames: 16_000, slowMs: 1_000 } as const;

const ENTRY = new URL('./sqlite-checkpoint-thread.ts', import.meta.url);
const STOP_GRACE_MS = 5_000;

/** Starts checkpointing the WAL of the SQLite database at `path`. */
export async function startCheckpointer(path: string, options: { log: Logger } & Partial<Omit<CheckpointerData, 'path'>>): Promise<Checkpointer> {
  const { log, ...tuning } = options;
  const data: CheckpointerData = { path, ...CHECKPOINT_DEFAULTS, ...tuning };
  const worker: Worker = startTsWorker(ENTRY, { name: 'kefu-checkpoint', workerData: data });
  const runs = { passive: 0, restart: 0 };
  let stopping = false;
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`checkpoint thread exited with code ${code} while starting`)));
    worker.on('message', (m: FromCheckpointThread) => {
      if (m.type === 'started') resolve();
      else if (m.type === 'checkpointed') runs[m.mode === 'RESTART' ? 'restart' : 'passive']++;
      else if (m.type === 'slow') log.warn({ mode: m.mode, ms: Math.round(m.ms), frames: m.frames }, 'slow WAL checkpoint (disk)');
      else log.error({ reason: m.message }, 'WAL checkpoint failed');
    });
  });
  worker.removeAllListeners('error').removeAllListeners('exit');
  worker.on('error', (err) => log.error({ err }, 'checkpoint thread failed'));
  // Without it the store's backstop checkpoint still bounds the WAL: longer pauses, nothing lost.
  worker.on('exit', (code) => {
    if (!stopping) log.error({ code }, "checkpoint thread exited; only the store's backstop checkpoint bounds the WAL now");
  });
  // It only ever waits for a timer: it must not keep a finished process alive.
  worker.unref();
  let stopped: Promise<void> | null = null;
  return {
    runs,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        // Held by its last checkpoint, it must keep the process alive (the server's shutdown awaits it).
        worker.ref();
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage({ type: 'stop' });
        await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())]);
        await worker.terminate();
      })();
      return stopped;
    },
  };
}
