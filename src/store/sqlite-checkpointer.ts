import type { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import { startTsWorker } from '../workers/ts-worker.ts';

/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the COMMIT that crosses its
 * threshold: it copies the WAL into the database file and fsyncs both, and on the chat server's store thread every
 * turn waited for it, tens to hundreds of milliseconds every few seconds on this machine's disk (bench:chat's reply
 * p99 at 2,000 messages/s). Here a second connection copies pages on a timer (PASSIVE: it never holds the store
 * back). Under steady traffic the store commits during every pass, so the WAL is never wholly copied and would never
 * start over: once a pass finds it past `restartFrames`, the thread stops and says so in `walState`, and the store's
 * own thread restarts the WAL right after its next commit (`restartWalIfDue` in sqlite-store.ts): as the writer it
 * waits for no lock, and only the frames of the last interval are left to copy. While the thread is alive (a flag
 * in `walState`) the store's connection keeps an automatic checkpoint only as a backstop far above that; when it is
 * not (not started yet, failed, died) the store checkpoints by itself as SQLite does by default.
 */
export interface Checkpointer {
  /** Passive passes run so far (for tests and logs). */
  readonly passes: number;
  /** Runs a last checkpoint and stops the thread. */
  stop(): Promise<void>;
}

/** What the checkpoint thread is started with. */
export interface CheckpointerData {
  path: string;
  /** Shared with the store's thread: see WAL_FRAMES. */
  walState: Int32Array;
  intervalMs: number;
  restartFrames: number;
  /** A checkpoint longer than this is logged (the disk is slow). */
  slowMs: number;
}

/** The checkpoint thread's niceness (0 is the others'; higher yields more): it is on no reply's path. */
export const CHECKPOINT_NICENESS = 10;

/** Checkpoint thread → main thread: only what is worth a log line (a pass is counted in `walState`, not posted). */
export type FromCheckpointThread =
  | { type: 'started' }
  | { type: 'slow'; ms: number; frames: number }
  | { type: 'failed'; message: string };

/**
 * Index in `walState` of the WAL's length in frames at the checkpoint thread's last pass. At or past the restart
 * threshold, the thread makes no more passes until the store has restarted the WAL and set it back to 0.
 */
export const WAL_FRAMES = 0;
/** Index in `walState` of 1 while the checkpoint thread runs, else 0: the store checkpoints by itself at 0. */
export const CHECKPOINTER_ALIVE = 1;
/** Index in `walState` of the passes the checkpoint thread has made. */
export const PASSES = 2;

/** The state the checkpoint thread and the store's thread share (one Int32 per field, in a SharedArrayBuffer). */
export function createWalState(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
}

/** SQLite's own automatic checkpoint, in WAL pages: what the store uses while no checkpoint thread runs. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1_000;

/** A failing checkpoint (disk error, file gone) is logged once, then at most once a minute with a count. */
const FAILURE_LOG_EVERY_MS = 60_000;

/** WAL pages the store's own connection lets pile up before it checkpoints itself (128 MB at 4 KB pages). */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 32_768;

/**
 * Defaults, from bench:chat at 2,000 messages/s on this machine's disk: a passive pass every 50 ms keeps what the
 * store has left to copy at a restart small; a restart once the WAL holds 16,000 frames (~64 MB) is one every
 * second or so at that rate.
 */
export const CHECKPOINT_DEFAULTS = { intervalMs: 50, restartFrames: 16_000, slowMs: 1_000 } as const;

const ENTRY = new URL('./sqlite-checkpoint-thread.ts', import.meta.url);
const STOP_GRACE_MS = 5_000;

/** Starts checkpointing the WAL of the SQLite database at `path`. */
export async function startCheckpointer(
  path: string,
  options: { log: Logger; walState: Int32Array } & Partial<Omit<CheckpointerData, 'path' | 'walState'>>,
): Promise<Checkpointer> {
  const { log, ...rest } = options;
  const data: CheckpointerData = { path, ...CHECKPOINT_DEFAULTS, ...rest };
  const { walState } = data;
  const worker: Worker = startTsWorker(ENTRY, { name: 'kefu-checkpoint', workerData: data });
  let stopping = false;
  let failures = 0;
  let failureLoggedAt = -Infinity;
  const onFailure = (reason: string): void => {
    failures++;
    if (performance.now() - failureLoggedAt < FAILURE_LOG_EVERY_MS) return;
    failureLoggedAt = performance.now();
    log.error({ reason, failures }, 'WAL checkpoint failed');
    failures = 0;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`checkpoint thread exited with code ${code} while starting`)));
      worker.on('message', (m: FromCheckpointThread) => {
        if (m.type === 'started') resolve();
        else if (m.type === 'slow') log.warn({ ms: Math.round(m.ms), frames: m.frames }, 'slow WAL checkpoint (disk)');
        else onFailure(m.message);
      });
    });
  } catch (err) {
    Atomics.store(walState, CHECKPOINTER_ALIVE, 0);
    throw err;
  }
  worker.removeAllListeners('error').removeAllListeners('exit');
  worker.on('error', (err) => log.error({ err }, 'checkpoint thread failed'));
  let gone = false;
  worker.on('exit', (code) => {
    gone = true;
    // The store sees it after its next commit and checkpoints by itself again, as SQLite does by default.
    Atomics.store(walState, CHECKPOINTER_ALIVE, 0);
    if (!stopping) log.error({ code }, 'checkpoint thread exited; the store checkpoints the WAL itself from now on');
  });
  // It only ever waits for a timer: it must not keep a finished process alive.
  worker.unref();
  let stopped: Promise<void> | null = null;
  return {
    get passes() {
      return Atomics.load(walState, PASSES);
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        // Gone already: there is no exit to wait for (the wait's timer, unreferenced, would not even keep a
        // shutting-down process alive to the store's close).
        if (gone) return;
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
