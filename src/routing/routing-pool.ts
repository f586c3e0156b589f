import type { Worker } from 'node:worker_threads';
import type { Outcome } from '../domain/types.ts';
import type { Logger } from '../log.ts';
import type { RouteState } from '../router/router.ts';
import { KefuError } from '../errors.ts';
import { startTsWorker } from '../workers/ts-worker.ts';
import { createCallBatch, type CallBatch } from '../workers/call-batch.ts';
import { decodeThreadError } from '../workers/thread-error.ts';
import type { FromRoutingThread, RouteRequest, RouterSpec, ToRoutingThread } from './routing-protocol.ts';

/**
 * Routers on worker threads. Routing is pure CPU (normalise, two brains, decide) and was a quarter of the chat
 * server's work per message; on its own thread it runs beside the main thread's sockets and SQLite instead of
 * between them, on a machine's second core.
 */
export interface RoutingPool {
  /** Builds the router from `spec` on every thread; resolves once all of them route with it. */
  load(spec: RouterSpec): Promise<void>;
  /** True once a router is loaded and a thread is up to use it. */
  ready(): boolean;
  /** Threads that have a router now. */
  size(): number;
  route(text: string, state: RouteState): Promise<Outcome>;
  /** Stops the threads; requests still waiting fail with KEFU_NOT_READY. */
  close(): Promise<void>;
}

interface Thread {
  worker: Worker;
  calls: CallBatch<RouteRequest, Outcome>;
  /** The generation of the router this thread has loaded (0: none yet). */
  loaded: number;
}

const ENTRY = new URL('./routing-worker.ts', import.meta.url);

const notReady = (why: string): KefuError => new KefuError('KEFU_NOT_READY', [why]);

/** Starts `size` routing threads (at least one). */
export function createRoutingPool(options: { size: number; log: Logger }): RoutingPool {
  const { log } = options;
  const size = Math.max(1, options.size);
  const threads: Thread[] = [];
  let spec: RouterSpec | null = null;
  let generation = 0;
  let nextId = 0;
  let closing = false;
  const loadWaiters = new Map<number, { left: Set<Thread>; resolve(): void; reject(e: Error): void }>();

  const post = (t: Thread, m: ToRoutingThread): void => t.worker.postMessage(m);


  const spawn = (): Thread => {
    const worker = startTsWorker(ENTRY, { name: 'kefu-routing' });
    // An idle routing thread must not keep a process alive that has nothing else to do.
    worker.unref();
    const t: Thread = { worker, calls: createCallBatch((requests) => post(t, { type: 'route', requests })), loaded: 0 };
    worker.on('message', (m: FromRoutingThread) => {
      if (m.type === 'routed') {
        for (const r of m.replies) t.calls.settle(r.id, 'outcome' in r ? { value: r.outcome } : { error: decodeThreadError(r.error) });
        return;
      }
      const waiter = loadWaiters.get(m.generation);
      if (m.type === 'loaded') {
        t.loaded = Math.max(t.loaded, m.generation);
        waiter?.left.delete(t);
        if (waiter && waiter.left.size === 0) (loadWaiters.delete(m.generation), waiter.resolve());
      } else {
        log.error({ generation: m.generation, reason: m.message }, 'routing thread could not load the router');
        if (waiter) (loadWaiters.delete(m.generation), waiter.reject(new KefuError('KEFU_MODEL_INVALID', [m.message])));
      }
    });
    worker.on('error', (err) => log.error({ err }, 'routing thread failed'));
    worker.on('exit', (code) => {
      const at = threads.indexOf(t);
      if (at >= 0) threads.splice(at, 1);
      t.calls.failAll(closing ? notReady('the server is stopping') : new Error(`routing thread exited with code ${code}`));
      for (const [g, w] of loadWaiters) {
        if (!w.left.has(t)) continue;
        loadWaiters.delete(g);
        w.reject(closing ? notReady('the server is stopping') : new KefuError('KEFU_NOT_READY', [`a routing thread exited (code ${code}) before it had the model`]));
      }
      // A thread that served and then died (out of memory, a bug) is replaced with the same router, while the others
      // serve; one that never got as far as a router is not, or a thread that cannot start would restart forever.
      if (closing || t.loaded === 0) {
        if (!closing) log.error({ code }, 'routing thread exited before it had the model');
        return;
      }
      log.warn({ code }, 'routing thread exited; starting another');
      const fresh = spawn();
      threads.push(fresh);
      if (spec) post(fresh, { type: 'load', generation, spec });
    });
    return t;
  };

  return {
    load(next) {
      if (closing) return Promise.reject(notReady('the server is stopping'));
      while (threads.length < size) threads.push(spawn());
      const g = ++generation;
      const previous = spec;
      return new Promise<void>((resolve, reject) => {
        loadWaiters.set(g, {
          left: new Set(threads),
          // Only a spec every thread loaded is the one a replacement thread gets.
          resolve: () => {
            spec = next;
            resolve();
          },
          // A thread that refused it leaves the others on it: all go back to the last good one, so no two threads
          // answer from different models.
          reject: (err) => {
            if (previous && !closing) {
              const back = ++generation;
              for (const t of threads) post(t, { type: 'load', generation: back, spec: previous });
            }
            reject(err);
          },
        });
        for (const t of threads) post(t, { type: 'load', generation: g, spec: next });
      });
    },
    ready: () => !closing && threads.some((t) => t.loaded > 0),
    size: () => (closing ? 0 : threads.filter((t) => t.loaded > 0).length),
    route(text, state) {
      if (closing) return Promise.reject(notReady('the server is stopping'));
      // The least busy thread that has a router; with one thread per spare core that is usually the only one.
      let best: Thread | null = null;
      for (const t of threads) if (t.loaded > 0 && (!best || t.calls.size < best.calls.size)) best = t;
      if (!best) return Promise.reject(notReady('the routing threads are still loading the model'));
      return best.calls.add({ id: ++nextId, text, state });
    },
    async close() {
      closing = true;
      const stopping = threads.slice();
      for (const t of stopping) t.calls.failAll(notReady('the server is stopping'));
      await Promise.all(stopping.map((t) => t.worker.terminate()));
    },
  };
}
