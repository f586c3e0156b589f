// The checkpoint thread: copies the WAL's committed pages into the database file on its own connection, so the
// store's thread, which commits every turn, does not stop for that. See sqlite-checkpointer.ts.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointerData, FromCheckpointThread } from './sqlite-checkpointer.ts';

if (!parentPort) throw new Error('sqlite-checkpoint-thread.ts runs as a worker thread (see sqlite-checkpointer.ts)');
const port = parentPort;
const { path, intervalMs, restartFrames, slowMs } = workerData as CheckpointerData;
const send = (m: FromCheckpointThread): void => port.postMessage(m);

const db = new Database(path);
// RESTART waits for the store's open transaction (a turn's group commit, a few milliseconds) to finish.
db.pragma('busy_timeout = 5000');

type Result = { busy: number; log: number; checkpointed: number };
const run = (mode: 'PASSIVE' | 'RESTART'): Result => (db.pragma(`wal_checkpoint(${mode})`) as Result[])[0]!;

const checkpoint = (): void => {
  const started = performance.now();
  try {
    // PASSIVE copies what it can without making the store wait: almost every page, off the store's thread.
    let r = run('PASSIVE');
    let mode: 'PASSIVE' | 'RESTART' = 'PASSIVE';
    // Under steady traffic the store commits during every passive pass, so the WAL is never wholly copied and never
    // starts over: it would grow for ever. Now and then a RESTART copies the last few frames while holding the store
    // back (a short pause: the bulk was copied just before) and makes the next commit write from the WAL's start.
    if (r.log >= restartFrames) {
      r = run('RESTART');
      mode = 'RESTART';
    }
    const ms = performance.now() - started;
    send({ type: 'checkpointed', mode, frames: r.checkpointed, walFrames: r.log, ms });
    if (ms > slowMs) send({ type: 'slow', mode, ms, frames: r.checkpointed });
  } catch (err) {
    send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
};

const timer = setInterval(checkpoint, intervalMs);
port.on('message', (m: { type: 'stop' }) => {
  if (m.type !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  port.close();
});
send({ type: 'started' });
