import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createClient } from 'redis';
import { connectSocketCluster, redactedUrl } from '../../src/http/socket-cluster.ts';

// A Redis of the test's own (Debian's redis-server, which the machine runs), so that it can be stopped mid-test.
const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
const startRedis = async (): Promise<{ url: string; child: ChildProcess }> => {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(true)).listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
    });
    if (up) return { url, child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('redis-server did not start');
};

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

  it('keeps the password out of what it logs', () => {
    expect(redactedUrl('redis://kefu:s3cret@redis.bank.internal:6379/0')).toBe('redis://kefu:***@redis.bank.internal:6379/0');
    expect(redactedUrl('not a url')).toBe('(unparseable URL)');
  });
});
