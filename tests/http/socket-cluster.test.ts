import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createClient } from 'redis';
import { connectSocketCluster, redactedUrl } from '../../src/http/socket-cluster.ts';
import { Server } from 'socket.io';
import { killRedis, startRedis } from './private-redis.ts';

describe('socket.io cluster connection to Redis', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  it('says when Redis is gone, and stops within its bound even then', async () => {
    const { url, child } = await startRedis();
    children.push(child);
    const cluster = await connectSocketCluster(url, 'kefu#test', pino({ level: 'silent' }));
    expect(cluster.ready()).toBe(true);
    expect(cluster.healthySince()).not.toBeNull();
    child.kill('SIGKILL');
    for (let i = 0; i < 100 && cluster.ready(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cluster.ready()).toBe(false);
    expect(cluster.healthySince()).toBeNull();
    const started = performance.now();
    await cluster.close();
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('keeps token buckets and counting windows in Redis, timed by Redis, and never leaves a window without an expiry', async () => {
    const { url, child } = await startRedis();
    children.push(child);
    const cluster = await connectSocketCluster(url, 'kefu#test', pino({ level: 'silent' }));
    try {
      const perMs = 3 / 60_000;
      const takes = [];
      for (let i = 0; i < 4; i++) takes.push(await cluster.takeToken('messages#c1', 3, perMs));
      expect(takes.map((t) => t.allowed)).toEqual([true, true, true, false]);
      expect(takes[3]!.tokens).toBeLessThan(1);
      expect((await cluster.takeToken('messages#c2', 3, perMs)).allowed).toBe(true);
      expect((await cluster.countInWindow('rest#1.2.3.4', 60_000)).current).toBe(1);
      expect(await cluster.countInWindow('rest#1.2.3.4', 60_000)).toMatchObject({ current: 2 });
      // A window key left without an expiry (restored, edited by hand) gets one at the next count.
      const raw = createClient({ url });
      await raw.connect();
      try {
        await raw.set('kefu#test#window#rest#5.6.7.8', '5');
        const r = await cluster.countInWindow('rest#5.6.7.8', 60_000);
        expect(r.current).toBe(6);
        expect(r.ttl).toBeGreaterThan(0);
        expect(await raw.pTTL('kefu#test#window#rest#5.6.7.8')).toBeGreaterThan(0);
      } finally {
        await raw.quit();
      }
    } finally {
      await cluster.close();
    }
  });

  it('holds pushes while Redis is away up to a bound, drops and counts the rest without failing the process, and asks for a resync when back', async () => {
    const first = await startRedis();
    children.push(first.child);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const log = pino({ level: 'silent' });
    const [one, two] = [await connectSocketCluster(first.url, 'kefu#test', log), await connectSocketCluster(first.url, 'kefu#test', log)];
    const resyncs: boolean[][] = [[], []];
    one.onResync((everywhere) => resyncs[0]!.push(everywhere));
    two.onResync((everywhere) => resyncs[1]!.push(everywhere));
    try {
      const [ioOne, ioTwo] = [new Server(), new Server()];
      one.attach(ioOne);
      two.attach(ioTwo);
      const heard: unknown[] = [];
      ioTwo.of('/agent').on('kefu:test', (m: unknown) => heard.push(m));
      // Gone while the adapters' subscriptions may still be on their way: refused ones must be asked for again.
      await killRedis(first.child);
      // Both connections must know: pushes written just before the publishing one noticed are lost with it.
      await waitFor(() => !one.ready() && !one.canAsk() && !two.ready());
      // A long outage's worth of pushes: the connection holds its bound of them, the rest are dropped.
      for (let i = 0; i < 10_100; i++) ioOne.of('/agent').serverSideEmit('kefu:test', i);
      await waitFor(() => one.dropped() >= 100);
      expect(one.dropped()).toBeLessThan(200);
      expect(resyncs).toEqual([[], []]);
      // Redis is back on the same address: the connections come back by themselves, and the sockets are told.
      const second = await startRedis(first.port);
      children.push(second.child);
      await waitFor(() => one.ready() && two.ready(), 10_000);
      await waitFor(() => resyncs[0]!.length === 1 && resyncs[1]!.length === 1);
      // One dropped pushes meant for the other's sockets: everyone catches up. The other only missed what it heard.
      expect(resyncs).toEqual([[true], [false]]);
      // Both hear each other again.
      await waitFor(() => {
        ioOne.of('/agent').serverSideEmit('kefu:test', 'after');
        return heard.includes('after');
      }, 5_000);
    } finally {
      await Promise.all([one.close(), two.close()]);
      // Anything still held is refused as the connections are dropped: counted, not an unhandled rejection.
      await new Promise((resolve) => setTimeout(resolve, 50));
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled.map((e) => (e as Error).stack)).toEqual([]);
  });

  it('tells every instance to catch up after dropping pushes while Redis stalled, once Redis answers again', async () => {
    const { url, child } = await startRedis();
    children.push(child);
    const cluster = await connectSocketCluster(url, 'kefu#test', pino({ level: 'silent' }));
    const raw = createClient({ url });
    await raw.connect();
    const resyncs: boolean[] = [];
    cluster.onResync((everywhere) => resyncs.push(everywhere));
    try {
      const io = new Server();
      cluster.attach(io);
      await io.of('/agent').adapter.serverCount();
      // Redis stops answering for a while; the connections stay up, and the held queue fills.
      const sleeping = raw.sendCommand(['DEBUG', 'SLEEP', '1.5']);
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (let i = 0; i < 10_100; i++) io.of('/agent').serverSideEmit('kefu:test', i);
      await waitFor(() => cluster.dropped() >= 100);
      expect(cluster.ready()).toBe(true);
      expect(resyncs).toEqual([]); // not while Redis still sleeps
      await sleeping;
      await waitFor(() => resyncs.length === 1, 10_000);
      expect(resyncs).toEqual([true]);
    } finally {
      await raw.quit();
      await cluster.close();
    }
  });

  it('says it is not ready when Redis refuses its subscriptions, rather than retrying for ever', async () => {
    const { url, child } = await startRedis();
    children.push(child);
    const raw = createClient({ url });
    await raw.connect();
    // A Redis user without access to any channel.
    await raw.sendCommand(['ACL', 'SETUSER', 'nochannels', 'on', '>Secret-Password-1', '~*', 'resetchannels', '+@all']);
    await raw.quit();
    const limited = new URL(url);
    limited.username = 'nochannels';
    limited.password = 'Secret-Password-1';
    const cluster = await connectSocketCluster(limited.toString(), 'kefu#test', pino({ level: 'silent' }));
    try {
      expect(cluster.ready()).toBe(true);
      cluster.attach(new Server());
      await waitFor(() => !cluster.ready());
      expect(cluster.canAsk()).toBe(true);
    } finally {
      await cluster.close();
    }
  });

  it('runs a limit script by its text when Redis has forgotten it (restarted, or SCRIPT FLUSH)', async () => {
    const { url, child } = await startRedis();
    children.push(child);
    const cluster = await connectSocketCluster(url, 'kefu#test', pino({ level: 'silent' }));
    const raw = createClient({ url });
    await raw.connect();
    try {
      expect((await cluster.takeToken('messages#c1', 2, 1 / 60_000)).allowed).toBe(true);
      await raw.scriptFlush();
      expect(await cluster.takeToken('messages#c1', 2, 1 / 60_000)).toMatchObject({ allowed: true });
      expect((await cluster.takeToken('messages#c1', 2, 1 / 60_000)).allowed).toBe(false);
      await raw.scriptFlush();
      expect((await cluster.countInWindow('rest#9.9.9.9', 60_000)).current).toBe(1);
    } finally {
      await raw.quit();
      await cluster.close();
    }
  });

  it('keeps the password out of what it logs', () => {
    expect(redactedUrl('redis://kefu:s3cret@redis.bank.internal:6379/0')).toBe('redis://kefu:***@redis.bank.internal:6379/0');
    expect(redactedUrl('not a url')).toBe('(unparseable URL)');
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > until) throw new Error(`not so within ${timeoutMs} ms: ${check.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
