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

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail counts as two), or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  const bare = address.split('%')[0]!.toLowerCase();
  const dotted = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(bare);
  const text = dotted
    ? `${dotted[1]}${((Number(dotted[2]) << 8) | Number(dotted[3])).toString(16)}:${((Number(dotted[4]) << 8) | Number(dotted[5])).toString(16)}`
    : bare;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const part = (h: string | undefined): string[] => (h ? h.split(':') : []);
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || head.length + fill + tail.length !== 8) return null;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail].map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  return groups.some(Number.isNaN) ? null : groups;
}

// Prefixes whose last 32 bits are an IPv4 address: IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96) and NAT64
// (64:ff9b::/96). Such a client is that IPv4 address.
const IPV4_IN_IPV6: readonly (readonly number[])[] = [[0, 0, 0, 0, 0, 0xffff], [0, 0, 0, 0, 0, 0], [0x64, 0xff9b, 0, 0, 0, 0]];

/**
 * The key a per-address limit counts an address under: an IPv4 address itself (also written inside IPv6), an IPv6
 * address by its /64, which is what one customer's line is given: keyed whole, each of its 2^64 addresses would
 * have an allowance of its own.
 */
export function limitKey(address: string): string {
  if (!address.includes(':')) return address;
  const g = ipv6Groups(address);
  if (!g) return address;
  if (IPV4_IN_IPV6.some((prefix) => prefix.every((v, i) => g[i] === v)) && (g[6]! !== 0 || g[7]! > 1)) {
    return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
  }
  return `${g.slice(0, 4).map((n) => n.toString(16)).join(':')}::/64`;
}
