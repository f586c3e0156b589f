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

/**
 * The key a per-address limit counts an address under: an IPv4 address itself (also when IPv6-mapped), an IPv6
 * address by its /64, which is what one customer's line is given: keyed whole, each of its 2^64 addresses would
 * have an allowance of its own.
 */
export function limitKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const bare = address.split('%')[0]!.toLowerCase();
  const [left = '', right] = bare.split('::', 2);
  const head = left ? left.split(':') : [];
  const tail = right === undefined ? [] : right ? right.split(':') : [];
  const groups = right === undefined ? head : [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
