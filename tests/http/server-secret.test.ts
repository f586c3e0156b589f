import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveServerSecret } from '../../src/http/server-secret.ts';

describe('resolveServerSecret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kefu-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prefers the configured secret', () => {
    expect(resolveServerSecret('x'.repeat(32), join(dir, 'kefu.sqlite'))).toEqual({ secret: 'x'.repeat(32), source: 'config' });
  });

  it('generates one beside the database once, private to the owner, and reuses it after a restart', () => {
    const db = join(dir, 'data', 'kefu.sqlite');
    const first = resolveServerSecret(undefined, db);
    expect(first.source).toBe('generated');
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(dir, 'data', 'server-secret')).mode & 0o077).toBe(0);
    expect(resolveServerSecret(undefined, db)).toEqual({ secret: first.secret, source: 'file' });
  });

  it('uses a throw-away secret for an in-memory database', () => {
    expect(resolveServerSecret(undefined, ':memory:').source).toBe('ephemeral');
  });
});
