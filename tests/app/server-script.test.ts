import { describe, it, expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRET } from '../http/test-app.ts';
import { SERVER_NODE_FLAGS } from '../../scripts/server-node-flags.ts';

const ROOT = join(import.meta.dirname, '../..');

function run(args: string[], env: Record<string, string> = {}): { child: ChildProcess; stdout: () => string; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, '--import', 'tsx', 'scripts/server.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

describe('npm start (scripts/server.ts)', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('is what npm start runs, with the node flags bench:chat measures it with', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(['node', ...SERVER_NODE_FLAGS, '--import', 'tsx', 'scripts/server.ts'].join(' '));
    // The image runs the same command as node itself, so docker stop's SIGTERM reaches the server and it drains.
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    expect(JSON.parse(cmd ?? "null")).toEqual(pkg.scripts.start?.split(" "));
  });

  it('prints its usage for --help', async () => {
    const p = run(['--help']);
    expect(await p.exit).toBe(0);
    expect(p.stdout()).toMatch(/Usage: npm start/);
    expect(p.stdout()).toMatch(/--port PORT/);
  });

  it('refuses a bad --port with a usage error', async () => {
    const p = run(['--port', 'abc']);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toMatch(/KEFU_CLI_USAGE: --port/);
  });

  /** Starts the server on the mini pack and a database in `dir`; resolves with its URL once it listens. */
  const serve = async (dir: string, env: Record<string, string> = {}) => {
    const p = run(['--port', '0', '--pack', 'tests/fixtures/packs/mini', '--db', join(dir, 'kefu.sqlite')], {
      KEFU_MODEL_DIR: join(dir, 'models'), KEFU_SECRET: TEST_SECRET, KEFU_LOG_LEVEL: 'info', ...env,
    });
    children.push(p.child);
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /kefu listening on (http:\/\/[^"\s]+)/.exec(p.stderr());
        if (m) {
          clearInterval(timer);
          resolve(m[1]!);
        } else if (p.child.exitCode !== null) {
          clearInterval(timer);
          reject(new Error(`server exited: ${p.stderr()}`));
        }
      }, 50);
    });
    return { ...p, url };
  };

  it('listens, answers probes, and exits cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kefu-server-'));
    dirs.push(dir);
    const p = await serve(dir);
    const url = p.url;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(p.stderr()).toMatch(/"msg":"stopped"/);
  });

  it('keeps every answered turn when the process is killed outright (kill -9) just after answering, with commits synchronous=FULL or NORMAL', async () => {
    for (const synchronous of ['full', 'normal']) {
      const dir = mkdtempSync(join(tmpdir(), `kefu-crash-${synchronous}-`));
      dirs.push(dir);
      const first = await serve(dir, { KEFU_DB_SYNCHRONOUS: synchronous });
      const post = async (base: string, path: string, body: unknown, headers: Record<string, string> = {}) => {
        const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
        return { status: res.status, json: (await res.json()) as Record<string, unknown> };
      };
      const started = await post(first.url, '/api/v1/conversations', { channel: 'web', customerId: `crash-${synchronous}` });
      expect(started.status).toBe(201);
      const id = (started.json.conversation as { id: string }).id;
      const auth = { authorization: `Bearer ${started.json.token as string}` };
      // Sent together, so that several turns share commits; each reply is given only once its turn is committed.
      const texts = Array.from({ length: 8 }, (_, i) => `信用卡遺失了要怎麼掛失 ${i}`);
      const replies = await Promise.all(texts.map((text, i) => post(first.url, `/api/v1/conversations/${id}/messages`, { text, clientMessageId: `crash-${i}` }, auth)));
      expect(replies.map((r) => r.status)).toEqual(texts.map(() => 200));
      first.child.kill('SIGKILL');
      expect(await first.exit).toBeNull();

      const second = await serve(dir, { KEFU_DB_SYNCHRONOUS: synchronous });
      const history = (await (await fetch(`${second.url}/api/v1/conversations/${id}/messages`, { headers: auth })).json()) as { messages: { author: string; text: string; id: string }[] };
      const stored = new Map(history.messages.map((m) => [m.id, m]));
      for (const r of replies) {
        const { customer, reply } = r.json as { customer: { id: string; text: string }; reply: { id: string; text: string } };
        expect(stored.get(customer.id)?.text).toBe(customer.text);
        expect(stored.get(reply.id)?.text).toBe(reply.text);
      }
      expect(history.messages.filter((m) => m.author === 'customer').map((m) => m.text).sort()).toEqual([...texts].sort());
      second.child.kill('SIGTERM');
      expect(await second.exit).toBe(0);
    }
  });
});
