import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openSqliteStore, migrateSqlite } from '../../src/store/sqlite-store.ts';
import { storeContract } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'kefu-sqlite-'));
let n = 0;
let current = '';
afterAll(() => rmSync(dir, { recursive: true, force: true }));

storeContract(
  'sqlite',
  async () => openSqliteStore((current = join(dir, `db-${++n}`, 'kefu.sqlite'))),
  async () => openSqliteStore(current),
);

describe('sqlite migrations', () => {
  it('applies each migration once and records it', () => {
    const db = new Database(':memory:');
    expect(migrateSqlite(db)).toEqual([1]);
    expect(migrateSqlite(db)).toEqual([]);
    expect(db.prepare('SELECT version FROM schema_migrations').all()).toEqual([{ version: 1 }]);
    db.close();
  });

  it('runs in WAL mode on a file', async () => {
    const path = join(dir, 'wal', 'kefu.sqlite');
    const store = openSqliteStore(path);
    await store.close();
    const db = new Database(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});
