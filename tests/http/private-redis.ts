import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

// A Redis of the test's own (Debian's redis-server, which the machine runs), so that it can be stopped mid-test
// without disturbing the tests that share the machine's.

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** Starts redis-server on `port` (a free one if not given) and resolves once it listens. */
export async function startRedis(port?: number): Promise<{ url: string; port: number; child: ChildProcess }> {
  const p = port ?? (await freePort());
  // DEBUG SLEEP lets a test stall it while connections stay up.
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${p}`;
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(true)).listen(p, '127.0.0.1', () => probe.close(() => resolve(false)));
    });
    if (up) return { url, port: p, child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start');
}

/** Kills it and resolves once it has exited. */
export async function killRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
