import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { applyPragmas, openSqliteStore, migrateSqlite } from '../../src/store/sqlite-store.ts';
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

/** A database file as a release with migrations up to `version` left it, opened for the test to put rows in. */
function databaseAt(name: string, version: number): { path: string; db: Database.Database } {
  const path = join(dir, name, 'kefu.sqlite');
  mkdirSync(join(dir, name));
  const db = new Database(path);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= version)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
  }
  return { path, db };
}

describe('sqlite migrations', () => {
  it('applies each migration once and records it', () => {
    const db = new Database(':memory:');
    expect(migrateSqlite(db)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    expect(migrateSqlite(db)).toEqual([]);
    expect(db.prepare('SELECT version FROM schema_migrations').all()).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })));
    db.close();
  });

  it('puts conversations already waiting for a person in the queue when the handoff tables arrive', async () => {
    const { path, db } = databaseAt('v1', 1);
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

  it('names the writer of agent messages stored before messages said who wrote them', async () => {
    const { path, db } = databaseAt('v2', 2);
    db.exec(`INSERT INTO agents (id, username, display_name, role, password_hash, created_at, updated_at) VALUES
        ('a1', 'mei', '小美', 'agent', 'h', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
        ('a2', 'ming', '王小明', 'agent', 'h', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
      INSERT INTO conversations (id, channel, customer_id, state, locale, created_at, updated_at, last_seq)
        VALUES ('c', 'web', 'x', 'agent', 'zh-TW', '2025-01-01T00:00:00.000Z', '2025-01-01T00:09:00.000Z', 3);
      -- 小美 held it from 00:01 to 00:05 (then transferred it), 王小明 from 00:06 on.
      INSERT INTO handoffs (id, conversation_id, kind, trigger, queue_group, status, agent_id, queued_at, claimed_at, ended_at, end_reason) VALUES
        ('h1', 'c', 'chat', 'router', 'default', 'ended', 'a1', '2025-01-01T00:00:30.000Z', '2025-01-01T00:01:00.000Z', '2025-01-01T00:05:00.000Z', 'transferred'),
        ('h2', 'c', 'chat', 'transfer', 'default', 'claimed', 'a2', '2025-01-01T00:05:00.000Z', '2025-01-01T00:06:00.000Z', NULL, NULL);
      INSERT INTO messages (id, conversation_id, seq, author, text, created_at) VALUES
        ('m1', 'c', 1, 'agent', '我是小美', '2025-01-01T00:02:00.000Z'),
        ('m2', 'c', 2, 'customer', '好', '2025-01-01T00:03:00.000Z'),
        ('m3', 'c', 3, 'agent', '我是小明', '2025-01-01T00:07:00.000Z');`);
    db.close();
    const store = openSqliteStore(path);
    expect((await store.listMessages('c')).map((m) => [m.text, m.agentId, m.agentName])).toEqual([
      ['我是小美', 'a1', '小美'], ['好', null, null], ['我是小明', 'a2', '王小明'],
    ]);
    expect(await store.getConversation('c')).toMatchObject({ state: 'agent', agentId: 'a2', agentName: '王小明' });
    await store.close();
  });

  it('keeps every handoff, in its queue order, when the handoffs table is rebuilt for releases', async () => {
    const { path, db } = databaseAt('v3', 3);
    const at = '2025-01-01T00:00:00.000Z';
    db.exec(`INSERT INTO agents (id, username, display_name, role, password_hash, created_at, updated_at) VALUES ('a1', 'mei', '小美', 'agent', 'h', '${at}', '${at}');
      INSERT INTO conversations (id, channel, customer_id, state, locale, created_at, updated_at) VALUES
        ('c1', 'web', 'x', 'agent', 'zh-TW', '${at}', '${at}'), ('c2', 'web', 'y', 'queued', 'zh-TW', '${at}', '${at}'), ('c3', 'web', 'z', 'queued', 'zh-TW', '${at}', '${at}');
      INSERT INTO handoffs (id, conversation_id, kind, trigger, queue_group, status, agent_id, queued_at, claimed_at, ended_at, end_reason, previous_id) VALUES
        ('h0', 'c1', 'chat', 'router', 'bank', 'ended', 'a1', '${at}', '${at}', '${at}', 'transferred', NULL),
        ('h1', 'c1', 'chat', 'transfer', 'bank', 'claimed', 'a1', '${at}', '${at}', NULL, NULL, 'h0');
      -- Queued in the same millisecond: only the insertion order (rowid) tells who came first.
      INSERT INTO handoffs (id, conversation_id, kind, trigger, queue_group, status, queued_at) VALUES ('zz', 'c3', 'chat', 'router', 'bank', 'queued', '${at}');
      INSERT INTO handoffs (id, conversation_id, kind, trigger, queue_group, status, queued_at) VALUES ('aa', 'c2', 'chat', 'router', 'bank', 'queued', '${at}');`);
    db.close();
    const store = openSqliteStore(path);
    expect((await store.listQueue()).map((h) => h.id)).toEqual(['zz', 'aa']);
    expect((await store.listHandoffs('c1')).map((h) => [h.id, h.status, h.previousId])).toEqual([['h0', 'ended', null], ['h1', 'claimed', 'h0']]);
    expect(await store.getConversation('c1')).toMatchObject({ agentId: 'a1', agentName: '小美' });
    const released = await store.releaseHandoff('h1', { agentId: 'a1' });
    expect(released.handoff).toMatchObject({ trigger: 'release', previousId: 'h1' });
    expect((await store.listQueue()).map((h) => h.id)).toEqual([released.handoff.id, 'zz', 'aa']);
    await store.close();
  });

  it("finds a customer's open conversation by index, and a new message rewrites no index entry of its conversation", async () => {
    const path = join(dir, 'plan', 'kefu.sqlite');
    const store = openSqliteStore(path);
    const c = await store.createConversation({ channel: 'web', customerId: 'who', locale: 'zh-TW' });
    await store.close();
    const db = new Database(path);
    const plan = (sql: string): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join(' | ');
    expect(plan(`SELECT * FROM conversations WHERE channel = 'web' AND customer_id = 'who' AND state != 'closed' ORDER BY updated_at DESC LIMIT 1`)).toContain(
      'USING INDEX conversations_customer_open',
    );
    expect(plan(`SELECT * FROM conversations WHERE state = 'bot' AND updated_at >= '' ORDER BY updated_at DESC`)).toContain('USING INDEX conversations_state_updated');
    // The open-conversation gauge (every metrics scrape) reads the open states' entries of that index, never the
    // closed ones, which are nearly all of them (countOpenConversations' query).
    const countPlan = plan(`SELECT state, COUNT(*) AS n FROM conversations WHERE state IN ('bot','queued','agent') GROUP BY state`);
    expect(countPlan).toContain('SEARCH conversations USING COVERING INDEX conversations_state_updated (state=?)');
    expect(countPlan).not.toContain('SCAN');
    // A retry's reply is looked up from its message's seq on, by index: no table scan, and no index of its own.
    const replyPlan = plan(`SELECT * FROM messages WHERE conversation_id = 'c' AND reply_to = 'm'
      AND seq > (SELECT seq FROM messages WHERE id = 'm' AND conversation_id = 'c') ORDER BY seq LIMIT 1`);
    expect(replyPlan).toMatch(/SEARCH messages USING INDEX sqlite_autoindex_messages_\d \(conversation_id=\? AND seq>\?\)/);
    expect(replyPlan).not.toContain('SCAN');
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'messages_reply_to'`).get()).toBeUndefined();
    // Of the conversation's indexes, only the (state, updated_at) one has a column a message changes.
    const indexed = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'conversations' AND sql IS NOT NULL`).all() as { name: string }[])
      .map((r) => [r.name, (db.prepare(`SELECT name FROM pragma_index_info(?)`).all(r.name) as { name: string }[]).map((i) => i.name)] as const);
    expect(indexed.filter(([, cols]) => cols.includes('updated_at') || cols.includes('last_seq')).map(([name]) => name)).toEqual(['conversations_state_updated']);
    db.close();
    const again = openSqliteStore(path);
    expect((await again.findOpenConversation('web', 'who'))?.id).toBe(c.id);
    await again.updateConversation(c.id, { state: 'closed' });
    expect(await again.findOpenConversation('web', 'who')).toBeNull();
    await again.close();
  });

  it("keeps finding each customer's open conversation after the customer index is rebuilt on open ones only", async () => {
    const { path, db } = databaseAt('v4', 4);
    db.exec(`INSERT INTO conversations (id, channel, customer_id, state, locale, created_at, updated_at, closed_at) VALUES
      ('old', 'web', 'amy', 'closed', 'zh-TW', '2025-01-01T00:00:00.000Z', '2025-01-03T00:00:00.000Z', '2025-01-03T00:00:00.000Z'),
      ('now', 'web', 'amy', 'bot', 'zh-TW', '2025-01-02T00:00:00.000Z', '2025-01-02T00:00:00.000Z', NULL),
      ('line', 'line', 'amy', 'agent', 'zh-TW', '2025-01-02T00:00:00.000Z', '2025-01-04T00:00:00.000Z', NULL),
      ('gone', 'web', 'bob', 'closed', 'en', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`);
    db.close();
    const store = openSqliteStore(path);
    expect((await store.findOpenConversation('web', 'amy'))?.id).toBe('now');
    expect((await store.findOpenConversation('line', 'amy'))?.id).toBe('line');
    expect(await store.findOpenConversation('web', 'bob')).toBeNull();
    expect(await store.countOpenConversations()).toEqual({ bot: 1, queued: 0, agent: 1 });
    await store.close();
  });

  it("leaves the group of conversations from before it was kept unrecorded (their messages say), and starts new ones in the default group", async () => {
    const { path, db } = databaseAt('v6', 6);
    db.exec(`INSERT INTO conversations (id, channel, customer_id, state, locale, created_at, updated_at) VALUES
      ('before', 'web', 'amy', 'bot', 'zh-TW', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`);
    db.close();
    const store = openSqliteStore(path);
    expect((await store.getConversation('before'))?.topicGroup).toBeNull();
    // A fallback leaves it unrecorded; an answer whose topic has a group records it.
    expect((await store.appendMessage({ conversationId: 'before', author: 'bot', text: '請再說一次', topicGroup: null })).conversation.topicGroup).toBeNull();
    expect((await store.appendMessage({ conversationId: 'before', author: 'bot', text: '請掛失', topicGroup: 'bank' })).conversation.topicGroup).toBe('bank');
    // Worked out from its messages and set, where none is kept yet.
    const raw = new Database(path);
    raw.prepare("UPDATE conversations SET topic_group = NULL WHERE id = 'before'").run();
    raw.close();
    expect((await store.updateConversation('before', { topicGroup: 'life' })).topicGroup).toBe('life');
    expect((await store.createConversation({ channel: 'web', customerId: 'bob', locale: 'zh-TW' })).topicGroup).toBe('default');
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

  it('commits as config.database.synchronous says: FULL (an fsync per commit) or NORMAL', () => {
    // SQLite's codes: 1 NORMAL, 2 FULL. The setting is the connection's own, so it is read on the connection set.
    for (const [asked, code] of [['normal', 1], ['full', 2]] as const) {
      const db = new Database(join(dir, `sync-${asked}.sqlite`));
      applyPragmas(db, asked);
      expect([asked, db.pragma('synchronous', { simple: true }), db.pragma('journal_mode', { simple: true })]).toEqual([asked, code, 'wal']);
      db.close();
    }
  });
});

describe('sqlite message ids', () => {
  it('are time-ordered UUIDs (v7), so new rows go to the end of the id index', async () => {
    const store = openSqliteStore(':memory:');
    const { id } = await store.createConversation({ channel: 'web', customerId: 'c', locale: 'zh-TW' });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await store.appendMessage({ conversationId: id, author: 'customer', text: `m${i}` })).message.id);
    for (const m of ids) expect(m).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    await store.close();
  });
});
