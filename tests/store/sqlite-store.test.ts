import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openSqliteStore, migrateSqlite } from '../../src/store/sqlite-store.ts';
import { storeContract } from './store-contract.ts';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.ts';

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
    expect(migrateSqlite(db)).toEqual([1, 2]);
    expect(migrateSqlite(db)).toEqual([]);
    expect(db.prepare('SELECT version FROM schema_migrations').all()).toEqual([{ version: 1 }, { version: 2 }]);
    db.close();
  });

  it('puts conversations already waiting for a person in the queue when the handoff tables arrive', async () => {
    const path = join(dir, 'v1', 'kefu.sqlite');
    mkdirSync(join(dir, 'v1'));
    const db = new Database(path);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const v1 = SQLITE_MIGRATIONS[0]!;
    db.exec(v1.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(v1.version, v1.name, new Date().toISOString());
    const insert = db.prepare(`INSERT INTO conversations (id, channel, customer_id, state, locale, created_at, updated_at) VALUES (?, 'web', ?, ?, 'zh-TW', ?, ?)`);
    insert.run('waiting', 'w', 'queued', '2025-01-01T00:00:00.000Z', '2025-01-01T00:01:00.000Z');
    insert.run('chatting', 'c', 'bot', '2025-01-01T00:00:00.000Z', '2025-01-01T00:02:00.000Z');
    db.close();
    const store = openSqliteStore(path);
    const queue = await store.listQueue();
    expect(queue).toHaveLength(1);
    expect(queue[0]).toMatchObject({ conversationId: 'waiting', status: 'queued', group: 'default', queuedAt: '2025-01-01T00:01:00.000Z' });
    await store.close();
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
