// The checkpoint thread: copies the WAL's committed pages into the database file on its own connection, so the
// store's thread, which commits every turn, does not stop for that. See sqlite-checkpointer.ts.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { CHECKPOINTER_ALIVE, CHECKPOINT_NICENESS, PASSES, WAL_FRAMES, type CheckpointerData, type FromCheckpointThread } from './sqlite-checkpointer.ts';

if (!parentPort) throw new Error('sqlite-checkpoint-thread.ts runs as a worker thread (see sqlite-checkpointer.ts)');
const port = parentPort;
const { path, walState, intervalMs, restartFrames, slowMs } = workerData as CheckpointerData;
const send = (m: FromCheckpointThread): void => port.postMessage(m);

// Off every reply's path, this thread yields to those on it when the cores are busy: on a machine shared with other
// work (a third of a core taken, bench:chat at 2,000 msgs/s, seven alternating pairs) the paced p99 was 19.6–131.8 ms
// (median 38.1) at the same priority and 24.6–41.1 (median 31.2) at 10. Linux takes a thread's niceness per thread.
try {
  setPriority(CHECKPOINT_NICENESS);
} catch {
  // Not permitted here (some containers): the same work at the same priority as the others.
}
const db = new Database(path);
// Opening can meet the store's write lock.
db.pragma('busy_timeout = 5000');

const pass = (): void => {
  const started = performance.now();
  try {
    // PASSIVE copies what it can without waiting for the store or making it wait.
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    const ms = performance.now() - started;
    Atomics.store(walState, WAL_FRAMES, r?.log ?? 0);
    Atomics.add(walState, PASSES, 1);
    if (ms > slowMs) send({ type: 'slow', ms, frames: r?.checkpointed ?? 0 });
  } catch (err) {
    send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
};

// A WAL due for a restart is the store's to restart (after its next commit): a pass meanwhile would only compete
// with it for the checkpoint lock.
const timer = setInterval(() => {
  if (Atomics.load(walState, WAL_FRAMES) < restartFrames) pass();
}, intervalMs);
port.on('message', (m: { type: 'stop' }) => {
  if (m.type !== 'stop') return;
  clearInterval(timer);
  pass();
  Atomics.store(walState, CHECKPOINTER_ALIVE, 0);
  db.close();
  port.close();
});
Atomics.store(walState, CHECKPOINTER_ALIVE, 1);
send({ type: 'started' });
