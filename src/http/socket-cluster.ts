import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Namespace, Server as SocketServer } from 'socket.io';
import type { PresenceBus, PresenceMessage } from '../handoff/cluster-presence.ts';
import { KefuError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** The Redis channel prefix kefu's instances share (several kefu deployments on one Redis set their own). */
const CHANNEL_PREFIX = 'kefu#socket.io';
/** Connection attempts at start before kefu gives up on Redis. */
const START_ATTEMPTS = 3;

export interface SocketCluster {
  /** Disconnects from Redis (after socket.io has closed). */
  close(): Promise<void>;
}

/**
 * Puts socket.io on the Redis adapter, so that a push to a room (a conversation's customers, an agent's consoles)
 * reaches its sockets on every instance, and instances can tell each other things (serverSideEmit). Fails with
 * KEFU_NOT_READY when Redis cannot be reached at start.
 */
export async function joinSocketCluster(io: SocketServer, url: string, log: Logger): Promise<SocketCluster> {
  // Once connected, the client reconnects for ever (backing off to 3 s); before that, a Redis that is not there
  // fails the start after a few tries, rather than leaving it waiting with no word.
  let started = false;
  const reconnectStrategy = (retries: number, cause: Error): number | Error =>
    started ? Math.min(100 * 2 ** retries, 3_000) : retries >= START_ATTEMPTS ? cause : 200;
  const pub = createClient({ url, socket: { reconnectStrategy, connectTimeout: 5_000 } });
  const sub = pub.duplicate();
  // Redis going away later is logged and retried by the client (pushes to other instances are lost meanwhile);
  // without a listener, an 'error' event would end the process.
  for (const [client, role] of [[pub, 'publish'], [sub, 'subscribe']] as const) {
    client.on('error', (err: unknown) => log.warn({ err, role }, 'Redis connection for socket.io failed; retrying'));
  }
  try {
    await Promise.all([pub.connect(), sub.connect()]);
    started = true;
  } catch (err) {
    await Promise.allSettled([pub.quit(), sub.quit()]);
    throw new KefuError('KEFU_NOT_READY', [`cannot reach Redis for socket.io at ${redactedUrl(url)}: ${(err as Error).message}`], { cause: err });
  }
  io.adapter(createAdapter(pub, sub, { key: CHANNEL_PREFIX }));
  log.info({ redis: redactedUrl(url) }, 'socket.io shares rooms with the other instances through Redis');
  return {
    async close() {
      await Promise.allSettled([pub.quit(), sub.quit()]);
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
export function presenceBus(nsp: Namespace): PresenceBus {
  return {
    publish: (message) => void nsp.serverSideEmit(PRESENCE_EVENT, message),
    subscribe(listener) {
      const handler = (message: PresenceMessage): void => listener(message);
      nsp.on(PRESENCE_EVENT, handler);
      return () => void nsp.off(PRESENCE_EVENT, handler);
    },
  };
}
