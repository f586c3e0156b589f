// The routing thread: holds a router built from the model the main thread sent, and answers batches of route
// requests. It never touches the store or a socket; an error in one request is that request's reply.
import { parentPort } from 'node:worker_threads';
import { deserializeModel } from '../model/build-model.ts';
import { routerFor } from '../engine.ts';
import type { Router } from '../router/router.ts';
import type { FromRoutingThread, RouteReply, RouteRequest, ToRoutingThread } from './routing-protocol.ts';
import { encodeThreadError } from '../workers/thread-error.ts';
import { KefuError } from '../errors.ts';

if (!parentPort) throw new Error('routing-worker.ts runs as a worker thread (see routing-pool.ts)');
const port = parentPort;
let router: Router | null = null;
/** How much routing work a reply waits for at most before it leaves (a reply message costs the main thread ~20 µs). */
const REPLY_EVERY_MS = 2;

const send = (m: FromRoutingThread): void => port.postMessage(m);

port.on('message', (m: ToRoutingThread) => {
  if (m.type === 'load') {
    try {
      const { config, pack, model, thresholds } = m.spec;
      // Replaced between two batches: requests already answered used the old router, later ones the new.
      router = routerFor(config, pack, deserializeModel(model), thresholds);
      send({ type: 'loaded', generation: m.generation });
    } catch (err) {
      send({ type: 'load-failed', generation: m.generation, message: err instanceof Error ? err.message : String(err) });
    }
    return;
  }
  // A large batch is answered in parts, one every REPLY_EVERY_MS: the main thread stores and answers the first
  // messages while this thread routes the rest, rather than the whole batch waiting for its last (bench:chat).
  let replies: RouteReply[] = [];
  let since = performance.now();
  for (const { id, text, state } of m.requests) {
    replies.push(routeOne(id, text, state));
    const now = performance.now();
    if (now - since >= REPLY_EVERY_MS) {
      send({ type: 'routed', replies });
      replies = [];
      since = now;
    }
  }
  if (replies.length > 0) send({ type: 'routed', replies });
});

function routeOne(id: number, text: string, state: RouteRequest['state']): RouteReply {
  if (!router) return { id, error: encodeThreadError(new KefuError('KEFU_NOT_READY', ['no router loaded on the routing thread'])) };
  try {
    return { id, outcome: router.route(text, state) };
  } catch (err) {
    return { id, error: encodeThreadError(err) };
  }
}
