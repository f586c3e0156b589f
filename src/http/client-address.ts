import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import type { Config } from '../config.ts';

/**
 * The customer's address of a raw request (a socket.io handshake), believed the way fastify believes it for REST
 * requests with the same `server.trustProxy` (both go through proxy-addr), so a per-address limit keys both alike.
 */
export function clientAddressReader(trust: Config['server']['trustProxy']): (req: IncomingMessage) => string {
  if (trust === false) return (req) => req.socket.remoteAddress ?? 'unknown';
  const trusted = trust === true ? () => true : proxyAddr.compile([...trust]);
  return (req) => {
    try {
      return proxyAddr(req, trusted);
    } catch {
      // A request whose socket is already gone has no address: it still gets a bucket (a shared one), not a crash.
      return req.socket.remoteAddress ?? 'unknown';
    }
  };
}
