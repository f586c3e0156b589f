import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Namespace, Server as SocketServer } from 'socket.io';
import type { PresenceBus, PresenceMessage } from '../handoff/cluster-presence.ts';
import { KefuError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** Connection attempts at start before kefu gives up on Redis. */
const START_ATTEMPTS = 3;
/** A connection that stops answering pings is dropped and reconnected (a half-open socket would go unnoticed). */
const PING_MS = 5_000;
/** How long stop() waits for Redis to take QUIT before dropping the connections. */
const CLOSE_MS = 2_000;

export interface SocketCluster {
  /** Puts socket.io on the Redis adapter: a push to a room reaches its sockets on every instance. */
  attach(io: SocketServer): void;
  /** True while both connections are up. */
  ready(): boolean;
  /** When (performance.now()) both connections were last up again; null while either is down. */
  healthySince(): number | null;
  /** Disconnects from Redis (after socket.io has closed), within a bound whether or not Redis answers. */
  close(): Promise<void>;
}

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
  const pub = createClient({ url, pingInterval: PING_MS, socket: { reconnectStrategy, connectTimeout: 5_000 } });
  const sub = pub.duplicate();
  let upSince: number | null = null;
  const track = (): void => {
    upSince = pub.isReady && sub.isReady ? performance.now() : null;
  };
  for (const [client, role] of [[pub, 'publish'], [sub, 'subscribe']] as const) {
    // Without a listener an 'error' event would end the process; the client retries by itself.
    client.on('error', (err: unknown) => log.warn({ err, role }, 'Redis connection for socket.io failed; retrying'));
    client.on('ready', track);
    client.on('end', track);
    client.on('reconnecting', () => (upSince = null));
  }
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
  return {
    attach(io) {
      io.adapter(createAdapter(pub, sub, { key: `${prefix}#socket.io` }));
      log.info({ redis: redactedUrl(url), prefix }, 'socket.io shares rooms with the other instances through Redis');
    },
    ready: () => pub.isReady && sub.isReady,
    healthySince: () => (pub.isReady && sub.isReady ? upSince : null),
    async close() {
      // QUIT waits in the client's offline queue while Redis is down: bounded, then the connections are dropped.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([pub.quit(), sub.quit()]),
        new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_MS))),
      ]);
      clearTimeout(timer);
      if (pub.isOpen) pub.destroy();
      if (sub.isOpen) sub.destroy();
    },
  };
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

const PRESENCE_EVENT = 'kefu:presence';

/** The other instances, for presence: socket.io's server-side events on the agents' namespace (never back to this one). */
export function presenceBus(nsp: Namespace, cluster: Pick<SocketCluster, 'healthySince'>): PresenceBus {
  return {
    publish: (message) => void nsp.serverSideEmit(PRESENCE_EVENT, message),
    subscribe(listener) {
      const handler = (message: PresenceMessage): void => listener(message);
      nsp.on(PRESENCE_EVENT, handler);
      return () => void nsp.off(PRESENCE_EVENT, handler);
    },
    healthySince: () => cluster.healthySince(),
  };
}
