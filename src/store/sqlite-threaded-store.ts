import type { Worker } from 'node:worker_threads';
import { KefuError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { startTsWorker } from '../workers/ts-worker.ts';
import type { Store } from './store.ts';
import type { SqliteSynchronous } from './sqlite-store.ts';
import { ECHOED_OUTCOMES, OUTCOME_ECHO_OMITTED, type FromStoreThread, type StoreCall, type StoreThreadData } from './sqlite-thread-protocol.ts';
import { createCallBatch } from '../workers/call-batch.ts';
import { decodeThreadError } from '../workers/thread-error.ts';
import { CHECKPOINT_DEFAULTS, createWalState, startCheckpointer, type Checkpointer, type CheckpointerData } from './sqlite-checkpointer.ts';

const ENTRY = new URL('./sqlite-store-thread.ts', import.meta.url);
const CLOSE_GRACE_MS = 5_000;

/**
 * The SQLite store on a thread of its own, behind the same Store interface: SQLite's statements, its commits and
 * its WAL checkpoints were two fifths of the chat server's main thread (bench:chat's profile), and there they
 * stood between sockets and routing. Each call crosses as a message (calls of one event-loop turn together) and
 * settles when the thread's store settles it, after its COMMIT as before. If the thread dies, the calls waiting
 * fail with KEFU_STORE_FAILED and a new thread reopens the database (nothing acknowledged is lost: it was
 * committed); if it cannot reopen, every later call fails the same way. A database file (not ':memory:') gets its
 * WAL checkpoints on a third thread (sqlite-checkpointer.ts) unless `checkpoints` is false.
 */
export async function openSqliteStoreOnThread(
  path: string,
  options: { log: Logger; checkpoints?: false | Partial<Omit<CheckpointerData, 'path' | 'walState'>>; synchronous?: SqliteSynchronous },
): Promise<Store> {
  const { log } = options;
  const tuning = { ...CHECKPOINT_DEFAULTS, ...(options.checkpoints || {}) };
  // Shared by the store's thread (and any that replaces it) and the checkpoint thread.
  const externalCheckpoints =
    path !== ':memory:' && options.checkpoints !== false ? { walState: createWalState(), restartFrames: tuning.restartFrames } : undefined;
  let checkpointer: Checkpointer | null = null;
  let worker: Worker;
  let nextId = 0;
  let broken: Error | null = null;
  let closing = false;
  // Referenced only while a call waits: an idle store thread must not keep a finished process alive, and one with a
  // call in flight must (a CLI's last write).
  const calls = createCallBatch<StoreCall, unknown>((batch) => worker.postMessage({ type: 'calls', calls: batch }), {
    onBusy: () => worker.ref(),
    onIdle: () => worker.unref(),
  });

  const start = (): Promise<{ kind: Store['kind']; methods: string[] }> =>
    new Promise((resolve, reject) => {
      worker = startTsWorker(ENTRY, { name: 'kefu-store', workerData: { path, externalCheckpoints, synchronous: options.synchronous ?? 'full' } satisfies StoreThreadData });
      let opened = false;
      worker.on('message', (m: FromStoreThread) => {
        if (m.type === 'results') {
          for (const r of m.results) calls.settle(r.id, 'error' in r ? { error: decodeThreadError(r.error) } : { value: r.value });
        } else if (m.type === 'opened') {
          opened = true;
          if (calls.size === 0) worker.unref();
          resolve({ kind: m.kind, methods: m.methods });
        } else {
          reject(decodeThreadError(m.error));
          void worker.terminate();
        }
      });
      worker.on('error', (err) => {
        if (!opened) reject(err);
        else log.error({ err }, 'store thread failed');
      });
      worker.on('exit', (code) => {
        calls.failAll(new KefuError('KEFU_STORE_FAILED', [closing ? 'the store is closed' : `the store thread exited with code ${code}`]));
        if (!opened) return reject(new KefuError('KEFU_STORE_FAILED', [`the store thread exited with code ${code} while opening ${path}`]));
        if (closing) return;
        log.error({ code }, 'store thread exited; reopening the database on a new one');
        start().then(
          () => log.info('store reopened'),
          (err: unknown) => {
            broken = err instanceof Error ? err : new Error(String(err));
            log.error({ err }, 'store could not be reopened');
          },
        );
      });
    });

  const { kind, methods } = await start();
  // Started once the store has created and migrated the file; it outlives a store thread that is replaced.
  if (externalCheckpoints) {
    try {
      checkpointer = await startCheckpointer(path, { log, ...tuning, walState: externalCheckpoints.walState });
    } catch (err) {
      // The store works without it: it checkpoints by itself, as SQLite does by default (the flag in walState).
      log.error({ err }, 'checkpoint thread could not start');
    }
  }
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (closing) return Promise.reject(new KefuError('KEFU_STORE_FAILED', ['the store is closed']));
    if (broken) return Promise.reject(new KefuError('KEFU_STORE_FAILED', [broken.message]));
    return calls.add({ id: ++nextId, method, args });
  };

  const store: Record<string, unknown> = { kind };
  for (const name of methods) store[name] = (...args: unknown[]) => call(name, args);
  // Asked at every turn, and answered without a trip to the thread: one process, one clock.
  store.clock = () => Date.now();
  // The thread leaves out of these results the outcome the call sent: the caller's own object goes back in.
  for (const [method, echo] of Object.entries(ECHOED_OUTCOMES)) {
    store[method] = async (input: unknown) => {
      const r = (await call(method, [input])) as Record<string, unknown> & { [OUTCOME_ECHO_OMITTED]?: true };
      if (!r[OUTCOME_ECHO_OMITTED]) return r;
      const { [OUTCOME_ECHO_OMITTED]: _omitted, ...result } = r;
      return { ...result, [echo.field]: { ...(result[echo.field] as object), outcome: echo.sent(input) } };
    };
  }
  // Calls after close() starts are refused at once; the thread gets a few seconds to commit and close the database
  // before it is stopped anyway, so a stuck thread cannot hold up a shutdown.
  let closed: Promise<void> | null = null;
  store.close = () => {
    closed ??= (async () => {
      await checkpointer?.stop();
      const closeCall = call('close', []);
      closing = true;
      try {
        // A thread already gone has nothing left to commit: its failure is not the caller's.
        await Promise.race([closeCall.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
      } finally {
        await worker.terminate();
      }
    })();
    return closed;
  };
  // The thread's store has exactly the Store's methods (it is openSqliteStore's), each now a message away.
  return store as unknown as Store;
}
