// The store's own thread: opens the SQLite store and runs the calls the main thread sends, in the order they
// arrive (each call is async and joins the open group commit, as on the main thread). See sqlite-threaded-store.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { encodeThreadError } from '../workers/thread-error.ts';
import { openSqliteStore } from './sqlite-store.ts';
import type { Store } from './store.ts';
import { ECHOED_OUTCOMES, OUTCOME_ECHO_OMITTED, type CallResult, type FromStoreThread, type StoreCall, type StoreThreadData, type ToStoreThread } from './sqlite-thread-protocol.ts';

if (!parentPort) throw new Error('sqlite-store-thread.ts runs as a worker thread (see sqlite-threaded-store.ts)');
const port = parentPort;
const send = (m: FromStoreThread): void => port.postMessage(m);

let opened: Store | null = null;
try {
  const { path, externalCheckpoints, synchronous } = workerData as StoreThreadData;
  opened = openSqliteStore(path, { externalCheckpoints, synchronous });
} catch (err) {
  // Reported as a message, not thrown: a thrown SqliteError reaches the main thread without its message.
  send({ type: 'open-failed', error: encodeThreadError(err) });
  port.close();
}
if (opened) serve(opened);

// A bot reply's outcome (the router's trace, a kilobyte or two) came from the main thread with the call: sending it
// back would have the main thread rebuild it once more per turn, and that thread is the chat server's bottleneck.
// The main side puts its own copy back (sqlite-threaded-store.ts).
function withoutEchoedOutcome(method: string, value: unknown, input: unknown): unknown {
  const echo = ECHOED_OUTCOMES[method];
  if (!echo) return value;
  const sent = echo.sent(input);
  const r = value as Record<string, { outcome?: unknown } | null> | null;
  const message = r?.[echo.field];
  if (!message || sent === undefined || sent === null || message.outcome !== sent) return value;
  return { ...r, [echo.field]: { ...message, outcome: null }, [OUTCOME_ECHO_OMITTED]: true };
}

function serve(store: Store): void {
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  for (const [name, value] of Object.entries(store)) {
    if (typeof value === 'function') methods.set(name, value as (...args: unknown[]) => Promise<unknown>);
  }
  send({ type: 'opened', kind: store.kind, methods: [...methods.keys()] });

  // Results that settle in one turn of the event loop go back in one message.
  let results: CallResult[] = [];
  const flush = (): void => {
    const out = results;
    results = [];
    try {
      send({ type: 'results', results: out });
    } catch {
      // A value that cannot be copied back fails its own call only.
      for (const r of out) {
        try {
          send({ type: 'results', results: [r] });
        } catch (err) {
          send({ type: 'results', results: [{ id: r.id, error: encodeThreadError(err) }] });
        }
      }
    }
  };
  const settle = (r: CallResult): void => {
    if (results.length === 0) setImmediate(flush);
    results.push(r);
  };

  const run = ({ id, method, args }: StoreCall): void => {
    const fn = methods.get(method);
    if (!fn) return settle({ id, error: encodeThreadError(new TypeError(`no store method ${method}`)) });
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(fn(...args));
    } catch (err) {
      return settle({ id, error: encodeThreadError(err) });
    }
    p.then((value) => settle({ id, value: withoutEchoedOutcome(method, value, args[0]) }), (err: unknown) => settle({ id, error: encodeThreadError(err) }));
  };

  port.on('message', (m: ToStoreThread) => {
    for (const call of m.calls) run(call);
  });
}
