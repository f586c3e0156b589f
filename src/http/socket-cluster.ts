import { createHash } from 'node:crypto';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient, ErrorReply } from 'redis';
import type { Namespace, Server as SocketServer } from 'socket.io';
import type { PresenceBus, PresenceMessage } from '../handoff/cluster-presence.ts';
import type { RoomBus, RoomMessage } from './room-directory.ts';
import { KefuError } from '../errors.ts';
import { settlesWithin } from '../time-limit.ts';
import type { Logger } from '../log.ts';
import { createListeners } from '../listeners.ts';

/** Connection attempts at start before kefu gives up on Redis. */
const START_ATTEMPTS = 3;
/** A connection that stops answering pings is dropped and reconnected (a half-open socket would go unnoticed). */
const PING_MS = 5_000;
/** How long stop() waits for Redis to take QUIT before dropping the connections. */
const CLOSE_MS = 2_000;
/**
 * Commands a connection holds while Redis is away, sent when it is back: a short outage loses no push. Past this,
 * pushes are dropped (and counted) rather than held without bound; the instance's sockets catch up on `onResync`.
 * ~6 publishes per customer turn: about a second of a busy instance's pushes, a few MB.
 */
const QUEUE_MAX = 10_000;
/** Pushes dropped on a connection that stayed up: the sockets catch up once this long has passed without another. */
const DROPPED_QUIET_MS = 1_000;
/** A subscription refused while connected (racing a reconnect) is asked for again after this pause. */
const RESUBSCRIBE_PAUSE_MS = 1_000;

export interface SocketCluster {
  /** Puts socket.io on the Redis adapter: a push to a room reaches its sockets on every instance. */
  attach(io: SocketServer): void;
  /** True while both connections are up. */
  ready(): boolean;
  /** True while the connection that runs commands (the limits' scripts) is up. */
  canAsk(): boolean;
  /** When (performance.now()) both connections were last up again; null while either is down. */
  healthySince(): number | null;
  /**
   * Called when pushes may have been lost, so sockets should fetch what they show again: with `everywhere` false
   * when both connections are up after a break (this instance could not hear the others); true when pushes this
   * instance sent were dropped (the sockets they were for are on other instances, which never broke).
   */
  onResync(listener: (everywhere: boolean) => void): () => void;
  /** Pushes dropped since start because Redis was away longer than the held queue lasts. */
  dropped(): number;
  /** Resolves once the subscriptions socket.io has asked for so far are in place (or given up on). */
  subscribed(): Promise<void>;
  /**
   * Takes one token from the bucket `key` in Redis (`capacity` tokens, refilled at `perMs` a millisecond on Redis's own
   * clock); the tokens left after it, and whether it was taken.
   */
  takeToken(key: string, capacity: number, perMs: number): Promise<{ allowed: boolean; tokens: number }>;
  /** Counts one more in the fixed window `key` of `windowMs` (the REST limit's own scheme); the count and ms left. */
  countInWindow(key: string, windowMs: number): Promise<{ current: number; ttl: number }>;
  /** Disconnects from Redis (after socket.io has closed), within a bound whether or not Redis answers. */
  close(): Promise<void>;
}

// The expiry is set whenever the key has none, not only on the first count: a key left without one (restored from a
// backup, edited by hand) would otherwise count for ever and refuse that address for good.
const WINDOW_COUNT = `
local c = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { c, ttl }
`;

// A token bucket in one atomic step, timed by Redis (the instances' clocks may disagree). The key expires once the
// bucket would be full again, so idle keys cost nothing.
const TOKEN_BUCKET = `
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or capacity
local at = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / per_ms) + 1000)
return { allowed, tostring(tokens) }
`;

/**
 * Connects to Redis for socket.io before anything else starts (a failed start then leaves nothing running), with
 * `prefix` naming this deployment's channels: two deployments on one Redis (staging beside production) must not
 * hear each other. Fails with KEFU_NOT_READY when Redis cannot be reached.
 */
export async function connectSocketCluster(url: string, prefix: string, log: Logger): Promise<SocketCluster> {
  // Once connected, the clients reconnect for ever (backing off to 3 s); before that, a Redis that is not there
  // fails the start after a few tries, rather than leaving it waiting with no word.
  let started = false;
  const reconnectStrategy = (retries: number, cause: Error): number | Error =>
    started ? Math.min(100 * 2 ** retries, 3_000) : retries >= START_ATTEMPTS ? cause : 200;
  const pub = createClient({ url, pingInterval: PING_MS, commandsQueueMaxLength: QUEUE_MAX, socket: { reconnectStrategy, connectTimeout: 5_000 } });
  const sub = pub.duplicate();
  let upSince: number | null = null;
  let broken = false; // down at some point since the last resync
  let dropped = 0;
  let droppedSinceResync = 0;
  let refused: string | null = null; // a subscription Redis itself refused (ACLs): this instance cannot hear the others
  let closing = false;
  // A listener that throws must not reach node-redis's own connection loop, which called track().
  const resyncs = createListeners<[everywhere: boolean]>((err) => log.error({ err }, 'socket.io resync failed'));
  const resync = (everywhere: boolean): void => {
    log.info({ dropped: droppedSinceResync, everywhere }, 'socket.io pushes may have been lost (Redis was away or stalled): telling sockets to catch up');
    droppedSinceResync = 0;
    resyncs.emit(everywhere);
  };
  const track = (): void => {
    upSince = pub.isReady && sub.isReady ? performance.now() : null;
    if (!started) return;
    if (upSince === null) broken = true;
    else if (broken) {
      broken = false;
      // This instance heard nothing meanwhile: its own sockets catch up. Pushes it dropped were bound for sockets on
      // the others, which never broke: then everyone does.
      resync(droppedSinceResync > 0);
    }
  };
  for (const [client, role] of [[pub, 'publish'], [sub, 'subscribe']] as const) {
    // Without a listener an 'error' event would end the process; the client retries by itself.
    client.on('error', (err: unknown) => log.warn({ err, role }, 'Redis connection for socket.io failed; retrying'));
    client.on('ready', track);
    client.on('end', track);
    client.on('reconnecting', () => {
      upSince = null;
      if (started) broken = true;
    });
  }
  // Pushes dropped while the connection stayed up (Redis stalled and the held queue filled): once a second has passed
  // without another, the sockets everywhere catch up, if the connection is (still) up; if not, its return does it.
  let droppedTimer: NodeJS.Timeout | null = null;
  const afterDrops = (): void => {
    droppedTimer = null;
    if (closing || droppedSinceResync === 0 || broken) return;
    // A PING answers once everything queued before it has gone: telling the sockets earlier would be dropped too.
    pub.ping().then(
      () => {
        if (!closing && !broken && droppedSinceResync > 0) resync(true);
      },
      () => {
        if (!closing && droppedTimer === null) (droppedTimer = setTimeout(afterDrops, DROPPED_QUIET_MS)).unref();
      },
    );
  };
  // The adapter sends its commands without waiting for the answer: one refused (queue full, Redis gone while it was
  // in flight, connections dropped at stop) would be an unhandled rejection, which ends the process.
  // A refused publish is a push lost: counted, logged once until the next resync, and caught up by a resync.
  const publisher = withCommands(pub, {
    publish: (send) => send().catch((err: unknown) => {
      dropped++;
      if (droppedSinceResync++ === 0) log.warn({ err }, 'Redis for socket.io cannot take pushes to the other instances (away too long, stalled, or gone mid-send): dropping them');
      if (droppedTimer) clearTimeout(droppedTimer);
      droppedTimer = setTimeout(afterDrops, DROPPED_QUIET_MS);
      droppedTimer.unref();
      return 0;
    }),
  });
  // A subscription refused for want of a connection is asked for again once it is back (the client resubscribes only
  // what Redis took), or this instance would stop hearing the others for good. One Redis itself refuses (an ACL
  // without channel access) would be refused again: the instance says it is not ready instead of retrying for ever.
  const retries = new Set<() => void>();
  const resubscribing = (send: () => Promise<unknown>): Promise<unknown> =>
    send().catch((err: unknown) => {
      if (closing) return undefined;
      if (err instanceof ErrorReply) {
        refused = err.message;
        log.error({ err }, 'Redis refused socket.io a subscription: this instance cannot hear the others (check the Redis user\'s channel permissions)');
        return undefined;
      }
      log.warn({ err }, 'Redis for socket.io could not take a subscription; asking again when it is back');
      return new Promise((resolve) => {
        const again = (): void => {
          retries.delete(again);
          sub.off('ready', again);
          if (!closing) void resubscribing(send).then(resolve);
        };
        retries.add(again);
        // Connected again already (the refusal raced the reconnect): after a pause, not in a tight loop.
        if (sub.isReady) setTimeout(again, RESUBSCRIBE_PAUSE_MS).unref();
        else sub.once('ready', again);
      });
    });
  const quietly = (send: () => Promise<unknown>): Promise<unknown> => send().catch(() => undefined);
  const pendingSubscriptions = new Set<Promise<unknown>>();
  const subscribing = (send: () => Promise<unknown>): Promise<unknown> => {
    const p = resubscribing(send);
    pendingSubscriptions.add(p);
    void p.finally(() => pendingSubscriptions.delete(p));
    return p;
  };
  const subscriber = withCommands(sub, {
    subscribe: subscribing, pSubscribe: subscribing, sSubscribe: subscribing,
    unsubscribe: quietly, pUnsubscribe: quietly, sUnsubscribe: quietly,
  });
  try {
    await Promise.all([pub.connect(), sub.connect()]);
    started = true;
    track();
  } catch (err) {
    for (const client of [pub, sub]) {
      try {
        if (client.isOpen) client.destroy();
      } catch {
        // Already closed by its failed connect.
      }
    }
    throw new KefuError('KEFU_NOT_READY', [`cannot reach Redis for socket.io at ${redactedUrl(url)}: ${(err as Error).message}`], { cause: err });
  }
  // By hash: the script's text crosses once per connection (and again after Redis restarts), not with every request.
  const shas = new Map<string, string>();
  const runScript = async (script: string, key: string, args: string[]): Promise<unknown> => {
    let sha = shas.get(script);
    if (sha === undefined) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    try {
      return await pub.evalSha(sha, { keys: [key], arguments: args });
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return pub.eval(script, { keys: [key], arguments: args });
    }
  };
  return {
    attach(io) {
      io.adapter(createAdapter(publisher, subscriber, { key: `${prefix}#socket.io` }));
      log.info({ redis: redactedUrl(url), prefix }, 'socket.io shares rooms with the other instances through Redis');
    },
    ready: () => pub.isReady && sub.isReady && refused === null,
    canAsk: () => pub.isReady,
    async countInWindow(key, windowMs) {
      const r = (await runScript(WINDOW_COUNT, `${prefix}#window#${key}`, [String(windowMs)])) as [number, number];
      return { current: r[0], ttl: Math.max(0, r[1]) };
    },
    async takeToken(key, capacity, perMs) {
      const r = (await runScript(TOKEN_BUCKET, `${prefix}#limit#${key}`, [String(capacity), String(perMs)])) as [number, string];
      return { allowed: r[0] === 1, tokens: Number(r[1]) };
    },
    healthySince: () => (pub.isReady && sub.isReady ? upSince : null),
    onResync: resyncs.add,
    dropped: () => dropped,
    subscribed: async () => {
      await Promise.all([...pendingSubscriptions]);
    },
    async close() {
      closing = true;
      if (droppedTimer) clearTimeout(droppedTimer);
      for (const again of retries) sub.off('ready', again);
      retries.clear();
      // QUIT waits in the client's offline queue while Redis is down: bounded, then the connections are dropped.
      await settlesWithin(Promise.allSettled([pub.quit(), sub.quit()]), CLOSE_MS);
      if (pub.isOpen) pub.destroy();
      if (sub.isOpen) sub.destroy();
    },
  };
}

/**
 * The client as the adapter sees it, with some of its commands sent through `wrap` (given the call to make). The rest
 * run on the client itself: its methods use its private fields, which a proxy as `this` would not have.
 */
function withCommands<C extends object>(client: C, wrap: Record<string, (send: () => Promise<unknown>) => Promise<unknown>>): C {
  return new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = value as (...a: unknown[]) => Promise<unknown>;
      const w = typeof prop === 'string' ? wrap[prop] : undefined;
      return w ? (...args: unknown[]) => w(() => method.apply(target, args)) : method.bind(target);
    },
  });
}

/** The URL without its password, for logs and errors. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** The other instances, by one server-side event of a namespace (socket.io's, over Redis; never back to this one). */
function clusterBus<M>(nsp: Namespace, event: string, cluster: Pick<SocketCluster, 'healthySince' | 'subscribed'>) {
  const request = async (message: M): Promise<unknown[]> => {
    // Counted by Redis (PUBSUB NUMSUB) minus this instance: only once this instance's own subscriptions are in.
    await cluster.subscribed();
    return nsp.serverSideEmitWithAck(event, message);
  };
  return {
    publish: (message: M): void => void nsp.serverSideEmit(event, message),
    request,
    async publishAndWait(message: M, timeoutMs: number): Promise<void> {
      // The adapter gives up on its own after its requestsTimeout (5 s); a rejection then is an instance that did not
      // answer, which the caller can do nothing about but go on.
      await settlesWithin(request(message).catch(() => undefined), timeoutMs);
    },
    subscribe(listener: (message: M) => unknown): () => void {
      // A sender waiting for the others (publishAndWait, request) gets the listener's answer once it is taken.
      const handler = (message: M, ack?: unknown): void => {
        const answer = listener(message);
        if (typeof ack === 'function') (ack as (a: unknown) => void)(answer ?? true);
      };
      nsp.on(event, handler);
      return () => void nsp.off(event, handler);
    },
    healthySince: () => cluster.healthySince(),
  };
}

/** Presence's messages between instances, on the agents' namespace. */
export const presenceBus = (nsp: Namespace, cluster: Pick<SocketCluster, 'healthySince' | 'subscribed'>): PresenceBus =>
  clusterBus<PresenceMessage>(nsp, 'kefu:presence', cluster);

/** The room directory's messages between instances, on the namespace it keeps track of. */
export const roomBus = (nsp: Namespace, cluster: Pick<SocketCluster, 'healthySince' | 'subscribed'>): RoomBus => clusterBus<RoomMessage>(nsp, 'kefu:rooms', cluster);
