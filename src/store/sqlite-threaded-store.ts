import type { Worker } from 'node:worker_threads';
import { KefuError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { startTsWorker } from '../workers/ts-worker.ts';
import type { Store } from './store.ts';
import type { CallResult, FromStoreThread, StoreCall } from './sqlite-thread-protocol.ts';

const ENTRY = new URL('./sqlite-store-thread.ts', import.meta.url);
const CLOSE_GRACE_MS = 5_000;

const toError = (e: NonNullable<CallResult['error']>): Error => {
  const kefu = e.kefu === undefined ? null : KefuError.fromJSON(e.kefu);
  if (kefu) return kefu;
  return Object.assign(new Error(e.message), { name: e.name ?? 'Error', ...(e.code ? { code: e.code } : {}) });
};

/**
 * The SQLite store on a thread of its own, behind the same Store interface: SQLite's statements, its commits and
 * its WAL checkpoints were two fifths of the chat server's main thread (bench:chat's profile), and there they
 * stood between sockets and routing. Each call crosses as a message (calls of one event-loop turn together) and
 * settles when the thread's store settles it, after its COMMIT as before. If the thread dies, the calls waiting
 * fail with KEFU_STORE_FAILED and a new thread reopens the database (nothing acknowledged is lost: it was
 * committed); if it cannot reopen, every later call fails the same way.
 */
export async function openSqliteStoreOnThread(path: string, options: { log: Logger }): Promise<Store> {
  const { log } = options;
  let worker: Worker;
  let nextId = 0;
  let queue: StoreCall[] = [];
  let flushScheduled = false;
  let open = false;
  let broken: Error | null = null;
  let closing = false;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  const flush = (): void => {
    flushScheduled = false;
    if (!open || queue.length === 0) return;
    const calls = queue;
    queue = [];
    try {
      worker.postMessage({ type: 'calls', calls });
    } catch {
      // One call whose arguments cannot be copied to the thread must fail alone, not the batch (nor, thrown from
      // setImmediate, the process).
      for (const c of calls) {
        try {
          worker.postMessage({ type: 'calls', calls: [c] });
        } catch (err) {
          settle(c.id, (p) => p.reject(err instanceof Error ? err : new Error(String(err))));
        }
      }
    }
  };
  const settle = (id: number, how: (p: { resolve(v: unknown): void; reject(e: Error): void }) => void): void => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    how(p);
  };
  const schedule = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flush);
  };

  const start = (): Promise<{ kind: Store['kind']; methods: string[] }> =>
    new Promise((resolve, reject) => {
      worker = startTsWorker(ENTRY, { name: 'kefu-store', workerData: { path } });
      let opened = false;
      worker.on('message', (m: FromStoreThread) => {
        if (m.type === 'results') {
          for (const r of m.results) settle(r.id, (p) => (r.error ? p.reject(toError(r.error)) : p.resolve(r.value)));
        } else if (m.type === 'opened') {
          opened = open = true;
          if (pending.size === 0) worker.unref();
          resolve({ kind: m.kind, methods: m.methods });
          schedule();
        } else {
          reject(toError(m.error));
          void worker.terminate();
        }
      });
      worker.on('error', (err) => {
        if (!opened) reject(err);
        else log.error({ err }, 'store thread failed');
      });
      worker.on('exit', (code) => {
        open = false;
        const failure = closing ? new KefuError('KEFU_STORE_FAILED', ['the store is closed']) : new KefuError('KEFU_STORE_FAILED', [`the store thread exited with code ${code}`]);
        for (const p of pending.values()) p.reject(failure);
        pending.clear();
        queue = [];
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
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (closing) return Promise.reject(new KefuError('KEFU_STORE_FAILED', ['the store is closed']));
    if (broken) return Promise.reject(new KefuError('KEFU_STORE_FAILED', [broken.message]));
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      // Referenced only while a call waits: an idle store thread must not keep a finished process alive, and one
      // with a call in flight must (a CLI's last write).
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      queue.push({ id, method, args });
      schedule();
    });
  };

  const store: Record<string, unknown> = { kind };
  for (const name of methods) store[name] = (...args: unknown[]) => call(name, args);
  // Calls after close() starts are refused at once; the thread gets a few seconds to commit and close the database
  // before it is stopped anyway, so a stuck thread cannot hold up a shutdown.
  let closed: Promise<void> | null = null;
  store.close = () => {
    closed ??= (async () => {
      const closeCall = call('close', []);
      closing = true;
      try {
        await Promise.race([closeCall, new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
      } finally {
        await worker.terminate();
      }
    })();
    return closed;
  };
  // The thread's store has exactly the Store's methods (it is openSqliteStore's), each now a message away.
  return store as unknown as Store;
}
