import type { Config, Thresholds } from '../config.ts';
import type { Outcome } from '../domain/types.ts';
import type { SerializedModel } from '../model/build-model.ts';
import type { Pack } from '../pack/pack-loader.ts';
import type { RouteState } from '../router/router.ts';
import type { ThreadError } from '../workers/thread-error.ts';

/** Everything a routing thread needs to build the router the main thread has: plain data, cloned across. */
export interface RouterSpec {
  config: Config;
  pack: Pack;
  model: SerializedModel;
  thresholds: Thresholds;
}

export interface RouteRequest {
  id: number;
  text: string;
  state: RouteState;
}

export type RouteReply = { id: number; outcome: Outcome } | { id: number; error: ThreadError };

/** Main thread → routing thread. Requests are sent in batches: one message per event-loop turn, not one per chat turn. */
export type ToRoutingThread = { type: 'load'; generation: number; spec: RouterSpec } | { type: 'route'; requests: RouteRequest[] };

/** Routing thread → main thread. */
export type FromRoutingThread =
  | { type: 'loaded'; generation: number }
  | { type: 'load-failed'; generation: number; message: string }
  | { type: 'routed'; replies: RouteReply[] };
