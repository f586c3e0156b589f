import { describe, it, expect } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { clientAddressReader, limitKey } from '../../src/http/client-address.ts';

const request = (peer: string | undefined, forwardedFor?: string): IncomingMessage =>
  ({ socket: { remoteAddress: peer }, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} }) as unknown as IncomingMessage;

describe('clientAddressReader', () => {
  it('takes the peer address and ignores X-Forwarded-For when no proxy is trusted', () => {
    expect(clientAddressReader(false)(request('203.0.113.5', '198.51.100.1'))).toBe('203.0.113.5');
  });

  it('walks X-Forwarded-For back through the listed proxies only', () => {
    const read = clientAddressReader(['10.0.0.0/8']);
    expect(read(request('10.1.2.3', '198.51.100.1'))).toBe('198.51.100.1');
    // The customer wrote a hop of their own in front: the first address a trusted proxy did not vouch for is theirs.
    expect(read(request('10.1.2.3', '192.0.2.66, 198.51.100.1'))).toBe('198.51.100.1');
    expect(read(request('203.0.113.5', '198.51.100.1'))).toBe('203.0.113.5');
  });

  it('with true believes every hop, and without a peer address still answers', () => {
    expect(clientAddressReader(true)(request('203.0.113.5', '192.0.2.66, 198.51.100.1'))).toBe('192.0.2.66');
    expect(clientAddressReader(false)(request(undefined))).toBe('unknown');
  });

  it('keys IPv4 addresses whole and IPv6 ones by their /64, however they are written', () => {
    expect(limitKey('203.0.113.5')).toBe('203.0.113.5');
    expect(limitKey('::ffff:203.0.113.5')).toBe('203.0.113.5');
    const line = limitKey('2001:db8:1:2:3:4:5:6');
    expect(line).toBe('2001:db8:1:2::/64');
    for (const same of ['2001:db8:1:2::9', '2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2:3:4:5:6%eth0']) expect(limitKey(same), same).toBe(line);
    expect(limitKey('2001:db8:1:3::1')).not.toBe(line);
    expect(limitKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(limitKey('::1')).toBe('0:0:0:0::/64');
    expect(limitKey('::')).toBe('0:0:0:0::/64');
    // IPv4 written inside IPv6 (mapped, compatible, NAT64) is that IPv4 client, not one /64 for all of them.
    for (const v4 of ['::ffff:1.2.3.4', '::FFFF:102:304', '0:0:0:0:0:ffff:1.2.3.4', '::1.2.3.4', '64:ff9b::1.2.3.4', '64:ff9b::102:304']) expect(limitKey(v4), v4).toBe('1.2.3.4');
    expect(limitKey('64:ff9b::5.6.7.8')).toBe('5.6.7.8');
    // Not an address at all: its own key, unchanged.
    expect(limitKey('unknown')).toBe('unknown');
    expect(limitKey('1:2:3')).toBe('1:2:3');
  });
});
