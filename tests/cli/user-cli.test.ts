import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { createAgentAccounts } from '../../src/handoff/agent-accounts.ts';

const ROOT = join(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

describe('npm run user (account CLI)', () => {
  let dir: string;
  let db: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kefu-user-cli-'));
    db = join(dir, 'kefu.sqlite');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[], input = '') => {
    const r = spawnSync(TSX, [join(ROOT, 'scripts/user.ts'), ...args, '--db', db], { input, encoding: 'utf8', cwd: ROOT, timeout: 60_000, env: { ...process.env, KEFU_LOG_LEVEL: 'silent' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const signIn = async (username: string, password: string) => {
    const store = openSqliteStore(db);
    try {
      return await createAgentAccounts({ store, sessionTtlMs: 60_000 }).login(username, password).then(() => true, () => false);
    } finally {
      await store.close();
    }
  };

  it('explains itself with --help', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/add --username NAME --name DISPLAY --role ROLE/);
    expect(r.stdout).toMatch(/passwd USERNAME/);
  });

  it('adds an account with the password from stdin, refusing a weak one, and lists it', async () => {
    const weak = run(['add', '--username', 'xiaomei', '--name', '小美', '--role', 'agent', '--groups', 'bank,life'], 'password1\n');
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/KEFU_PASSWORD_WEAK/);
    const added = run(['add', '--username', 'xiaomei', '--name', '小美', '--role', 'agent', '--groups', 'bank,life'], 'Tea-Pot-2024!x\n');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe('created xiaomei (小美), role agent, groups bank, life\n');
    expect(await signIn('xiaomei', 'Tea-Pot-2024!x')).toBe(true);

    const again = run(['add', '--username', 'xiaomei', '--name', 'x', '--role', 'agent', '--password', 'Tea-Pot-2024!y']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/KEFU_AGENT_EXISTS/);
    expect(run(['add', '--username', 'amy', '--name', 'Amy', '--role', 'boss', '--password', 'Tea-Pot-2024!y']).stderr).toMatch(/--role must be one of agent, trainer, admin/);
    expect(run(['add', '--username', 'amy', '--name', 'Amy', '--role', 'trainer', '--password', 'Tea-Pot-2024!y']).code).toBe(0);

    const list = run(['list']);
    expect(list.stdout.split('\n')[0]).toMatch(/^USERNAME\s+NAME\s+ROLE\s+GROUPS\s+STATUS\s+LAST SIGN-IN$/);
    expect(list.stdout).toMatch(/xiaomei\s+小美\s+agent\s+bank,life\s+active/);
    const json = run(['list', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { username: string; role: string });
    expect(json.map((a) => [a.username, a.role])).toEqual([['amy', 'trainer'], ['xiaomei', 'agent']]);
    expect(JSON.stringify(json)).not.toMatch(/scrypt|password/i);
  });

  it('changes a password, groups, and disables and enables an account', async () => {
    expect(run(['passwd', 'xiaomei'], 'New-Kettle-77\n').code).toBe(0);
    expect(await signIn('xiaomei', 'Tea-Pot-2024!x')).toBe(false);
    expect(await signIn('xiaomei', 'New-Kettle-77')).toBe(true);
    expect(run(['set', 'xiaomei', '--groups', 'life']).stdout).toMatch(/groups life$/m);
    expect(run(['disable', 'xiaomei']).stdout).toMatch(/DISABLED/);
    expect(await signIn('xiaomei', 'New-Kettle-77')).toBe(false);
    expect(run(['enable', 'xiaomei']).code).toBe(0);
    expect(await signIn('xiaomei', 'New-Kettle-77')).toBe(true);
    expect(run(['disable', 'nobody']).stderr).toMatch(/KEFU_AGENT_NOT_FOUND/);
    expect(run(['frobnicate']).stderr).toMatch(/unknown command frobnicate/);
  });
});
