import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The secret that signs conversation tokens: the configured one, else one generated once and kept beside the
 * database (mode 600), so a restart keeps every customer's conversation reachable; in-memory databases get a
 * throw-away one.
 */
export function resolveServerSecret(configured: string | undefined, databasePath: string): { secret: string; source: 'config' | 'file' | 'generated' | 'ephemeral' } {
  if (configured !== undefined) return { secret: configured, source: 'config' };
  if (databasePath === ':memory:') return { secret: randomBytes(32).toString('base64url'), source: 'ephemeral' };
  const file = join(dirname(databasePath), 'server-secret');
  if (existsSync(file)) {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return { secret: s, source: 'file' };
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, source: 'generated' };
}
