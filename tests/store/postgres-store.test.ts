import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres-store.ts';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.ts';
import type { NewTurn, Store } from '../../src/store/store.ts';
import type { StoredOutcome } from '../../src/domain/conversation.ts';
import { storeContract } from './store-contract.ts';
import { POSTGRES_TEST_URL, dropTestSchemas, testSchema } from './postgres-test-db.ts';

// The same contract the SQLite store passes, against the PostgreSQL this machine runs (see postgres-test-db.ts).
let current = '';
afterAll(() => dropTestSchemas());

storeContract(
  'postgres',
  async () => openPostgresStore({ url: POSTGRES_TEST_URL, schema: (current = testSchema()) }),
  async () => openPostgresStore({ url: POSTGRES_TEST_URL, schema: current }),
);

const STRESS_OUTCOME: StoredOutcome = {
  outcome: 'answer', topic: 'card.lost', brain: 'faq', confidence: 0.9, candidates: [], entities: [], needsVerification: false,
  trace: { normalised: 'x', faq: null, nlu: null, rule: 'test', thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, ms: 0 },
};

describe('PostgreSQL store', () => {
  it('migrates once when several instances start together, and each then works on the same data', async () => {
    const schema = testSchema();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore({ url: POSTGRES_TEST_URL, schema, poolSize: 2 })));
    try {
      const c = await stores[0]!.createConversation({ channel: 'web', customerId: 'many', locale: 'zh-TW' });
      // Messages of one conversation stored through every instance at once get consecutive seqs.
      await Promise.all(stores.flatMap((s, i) => Array.from({ length: 5 }, (_, j) => s.appendMessage({ conversationId: c.id, author: 'customer', text: `${i}-${j}` }))));
      expect((await stores[3]!.listMessages(c.id)).map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      // A retried client message id is stored once even when the retries race on different instances.
      const retries = await Promise.all(stores.map((s) => s.appendMessage({ conversationId: c.id, author: 'customer', text: '重送', clientMessageId: 'same' })));
      expect(retries.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(new Set(retries.map((r) => r.message.id)).size).toBe(1);
      // The same for a whole turn (message and reply in one statement), retried through every instance at once.
      const turns = await Promise.all(stores.map((s) => s.appendTurn({
        conversationId: c.id, customer: { text: '卡不見了', clientMessageId: 'turn-1' },
        reply: { text: '請掛失', quickReplies: [], outcome: { outcome: 'answer', topic: 'card.lost', brain: 'faq', confidence: 0.9, candidates: [], entities: [], needsVerification: false,
          trace: { normalised: '卡不见了', faq: null, nlu: null, rule: 'test', thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, ms: 0 } } },
        routedOn: { consecutiveFallbacks: 0, locale: 'zh-TW' }, consecutiveFallbacks: 0,
      })));
      expect(turns.filter((t) => !t.duplicate)).toHaveLength(1);
      expect(new Set(turns.map((t) => t.customer.id)).size).toBe(1);
      const all = await stores[0]!.listMessages(c.id);
      expect(all.filter((m) => m.text === '卡不見了' || m.text === '請掛失').map((m) => m.seq)).toEqual([22, 23]);
      expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
      const db = new pg.Client({ connectionString: POSTGRES_TEST_URL });
      await db.connect();
      try {
        const versions = await db.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
        expect(versions.rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
      } finally {
        await db.end();
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('refuses a schema name that is not a plain identifier, and fails with KEFU_STORE_FAILED when the server cannot be reached', async () => {
    await expect(openPostgresStore({ url: POSTGRES_TEST_URL, schema: 'x; DROP TABLE y' })).rejects.toMatchObject({ code: 'KEFU_CONFIG_INVALID' });
    await expect(openPostgresStore({ url: 'postgres://postgres@127.0.0.1:1/test' })).rejects.toMatchObject({ code: 'KEFU_STORE_FAILED' });
  });

  it("stamps and compares times on the database's clock, so an instance whose own clock runs fast neither closes early nor queues out of turn", async () => {
    const schema = testSchema();
    const fast = await openPostgresStore({ url: POSTGRES_TEST_URL, schema, localClock: () => Date.now() + 5 * 60_000 });
    const db = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await db.connect();
    try {
      const dbNow = async (): Promise<number> => Number((await db.query<{ ms: number }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms')).rows[0]!.ms);
      const before = await dbNow();
      expect(Math.abs(fast.clock() - before)).toBeLessThan(1000);
      const c = await fast.createConversation({ channel: 'web', customerId: 'clock', locale: 'zh-TW' });
      const after = await dbNow();
      const at = Date.parse(c.createdAt);
      expect(at).toBeGreaterThanOrEqual(before - 1000);
      expect(at).toBeLessThanOrEqual(after + 1000);
      // Idle "before now minus a minute" on this instance's clock would find it at once; on the store's it does not.
      expect(await fast.listIdleConversations(new Date(fast.clock() - 60_000).toISOString(), 10)).toEqual([]);
    } finally {
      await db.end();
      await fast.close();
    }
  });

  it('turns a database failure into KEFU_STORE_FAILED without the values involved', async () => {
    const store = await openPostgresStore({ url: POSTGRES_TEST_URL, schema: testSchema() });
    try {
      // A 2-million-character customer id breaks no rule of the store, but a btree index entry that large does.
      const err = await store.createConversation({ channel: 'web', customerId: 'A123456789'.repeat(200_000), locale: 'zh-TW' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'KEFU_STORE_FAILED' });
      expect((err as Error).message).not.toContain('A123456789');
    } finally {
      await store.close();
    }
  });

  const outcome = {
    outcome: 'answer' as const, topic: 'card.lost', brain: 'faq' as const, confidence: 0.9, candidates: [], entities: [], needsVerification: false,
    trace: { normalised: '卡不见了', faq: null, nlu: null, rule: 'test', thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, ms: 0 },
  };
  const turnOf = (conversationId: string, text: string): NewTurn => ({
    conversationId, customer: { text }, reply: { text: `回覆:${text}`, quickReplies: [], outcome }, routedOn: { consecutiveFallbacks: 0, locale: 'zh-TW' }, consecutiveFallbacks: 0,
  });
  const withStore = async (work: (store: Store, schema: string) => Promise<void>, options: { poolSize?: number } = {}): Promise<void> => {
    const schema = testSchema();
    const store = await openPostgresStore({ url: POSTGRES_TEST_URL, schema, ...options });
    try {
      await work(store, schema);
    } finally {
      await store.close();
    }
  };
  const admin = async <T>(work: (db: pg.Client) => Promise<T>): Promise<T> => {
    const db = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await db.connect();
    try {
      return await work(db);
    } finally {
      await db.end();
    }
  };

  it('fails the one call whose connection is cut mid-transaction, and keeps serving (a database restart must not end the process)', async () => {
    await withStore(async (store, schema) => {
      const c = await store.createConversation({ channel: 'web', customerId: 'cut', locale: 'zh-TW' });
      const locker = new pg.Client({ connectionString: POSTGRES_TEST_URL });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query(`SELECT 1 FROM ${schema}.conversations WHERE id = $1 FOR UPDATE`, [c.id]);
        const lockerPid = (await locker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        const waiting = store.appendMessage({ conversationId: c.id, author: 'customer', text: '還在嗎' });
        waiting.catch(() => undefined);
        // The store's backend waiting on that lock is ended, as a restart or failover would end it.
        let killed = false;
        for (let i = 0; i < 100 && !killed; i++) {
          killed = await admin(async (db) => (await db.query('SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [lockerPid])).rows.some((r) => r.k));
          if (!killed) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(killed).toBe(true);
        await expect(waiting).rejects.toMatchObject({ code: 'KEFU_STORE_FAILED' });
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
      expect((await store.appendMessage({ conversationId: c.id, author: 'customer', text: '還在嗎' })).message.seq).toBe(1);
    });
  });

  it('keeps answering turns after another instance migrates the table under its prepared statement', async () => {
    await withStore(async (store, schema) => {
      const c = await store.createConversation({ channel: 'web', customerId: 'alter', locale: 'zh-TW' });
      await store.appendTurn(turnOf(c.id, '一'));
      await admin((db) => db.query(`ALTER TABLE ${schema}.conversations ADD COLUMN added_later integer`));
      const r = await store.appendTurn(turnOf(c.id, '二'));
      expect(r.reply?.seq).toBe(4);
      expect((await store.listMessages(c.id)).map((m) => m.text)).toEqual(['一', '回覆:一', '二', '回覆:二']);
    }, { poolSize: 1 });
  });

  it('leaves the group of conversations from before it was kept unrecorded (their messages say), and starts new ones in the default group', async () => {
    // A schema as release 2 left it, with a conversation in it; the store migrates it on opening.
    const schema = testSchema();
    await admin(async (db) => {
      await db.query(`CREATE SCHEMA ${schema}`);
      await db.query(`SET search_path = ${schema}`);
      await db.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)');
      for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= 2)) {
        await db.query(m.sql);
        await db.query('INSERT INTO schema_migrations VALUES ($1, $2, now())', [m.version, m.name]);
      }
      await db.query(`INSERT INTO conversations (id, channel, customer_id, state, locale, created_at, updated_at) VALUES ('before', 'web', 'amy', 'bot', 'zh-TW', now(), now())`);
    });
    const store = await openPostgresStore({ url: POSTGRES_TEST_URL, schema });
    try {
      expect((await store.getConversation('before'))?.topicGroup).toBeNull();
      expect((await store.appendTurn({ ...turnOf('before', '嗯'), reply: { ...turnOf('before', '嗯').reply, topicGroup: null } })).conversation.topicGroup).toBeNull();
      expect((await store.appendTurn({ ...turnOf('before', '卡'), reply: { ...turnOf('before', '卡').reply, topicGroup: 'bank' } })).conversation.topicGroup).toBe('bank');
      expect((await store.createConversation({ channel: 'web', customerId: 'bob', locale: 'zh-TW' })).topicGroup).toBe('default');
    } finally {
      await store.close();
    }
  });

  it('refuses what PostgreSQL cannot store as a validation error, pages past any seq, and refuses calls once closed', async () => {
    const schema = testSchema();
    const store = await openPostgresStore({ url: POSTGRES_TEST_URL, schema });
    const c = await store.createConversation({ channel: 'web', customerId: 'bad', locale: 'zh-TW' });
    await expect(store.appendMessage({ conversationId: c.id, author: 'customer', text: 'a\u0000b' })).rejects.toMatchObject({ code: 'KEFU_VALIDATION' });
    expect(await store.listMessages(c.id, { afterSeq: 3_000_000_000 })).toEqual([]);
    expect(await store.listConversationsByState('bot', { updatedAfter: '' })).toHaveLength(1);
    await store.close();
    await expect(store.getConversation(c.id)).rejects.toMatchObject({ code: 'KEFU_STORE_FAILED', message: expect.stringContaining('closed') });
    await store.close();
  });

  it('works in a schema named like a reserved word, and refuses a URL whose options move it to another schema', async () => {
    const reserved = await openPostgresStore({ url: POSTGRES_TEST_URL, schema: 'user' });
    try {
      expect((await reserved.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' })).state).toBe('bot');
    } finally {
      await reserved.close();
      await admin((db) => db.query('DROP SCHEMA IF EXISTS "user" CASCADE'));
    }
    const schema = testSchema();
    await expect(openPostgresStore({ url: `${POSTGRES_TEST_URL}?options=-c%20statement_timeout%3D5000`, schema })).rejects.toMatchObject({ code: 'KEFU_CONFIG_INVALID' });
    await expect(openPostgresStore({ url: POSTGRES_TEST_URL, schema: 'pg_kefu' })).rejects.toMatchObject({ code: 'KEFU_CONFIG_INVALID' });
  });

  it('runs turns, claims, transfers, releases, returns, closes and idle sweeps on the same conversations from several instances at once without a deadlock, and stays consistent', async () => {
    const schema = testSchema();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore({ url: POSTGRES_TEST_URL, schema, poolSize: 4 })));
    try {
      const [s0] = stores as [Store, ...Store[]];
      const agents = await Promise.all(['a', 'b', 'c'].map((u) => s0.createAgent({ username: `stress-${u}`, displayName: u, role: 'agent', groups: ['bank'], passwordHash: 'x' })));
      const conversations = await Promise.all(Array.from({ length: 4 }, (_, i) => s0.createConversation({ channel: 'web', customerId: `stress-${i}`, locale: 'zh-TW' })));
      // A seeded sequence, so a failure can be replayed.
      let seed = 42;
      const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
      const failures: { op: string; code: string; message: string }[] = [];
      const expected = new Set(['KEFU_CONVERSATION_STATE', 'KEFU_ALREADY_CLAIMED', 'KEFU_CONVERSATION_CLOSED', 'KEFU_HANDOFF_NOT_FOUND', 'KEFU_NOT_CONVERSATION_OWNER']);
      const ops: Promise<void>[] = [];
      for (let i = 0; i < 400; i++) {
        const store = stores[rand(stores.length)]!;
        const c = conversations[rand(conversations.length)]!;
        const agent = agents[rand(agents.length)]!;
        const kind = ['turn', 'turn', 'enqueue', 'claim', 'transfer', 'release', 'return', 'agentSays', 'sweep'][rand(9)]!;
        const run = async (): Promise<unknown> => {
          const open = async () => (await store.getOpenHandoff(c.id))?.id ?? 'none';
          switch (kind) {
            case 'turn':
              return store.appendTurn({ conversationId: c.id, customer: { text: `問${i}`, clientMessageId: `m-${i}` }, reply: { text: `答${i}`, quickReplies: [], outcome: STRESS_OUTCOME }, routedOn: { consecutiveFallbacks: 0, locale: 'zh-TW' }, consecutiveFallbacks: 0 });
            case 'enqueue':
              return store.enqueueHandoff({ conversationId: c.id, kind: 'chat', trigger: 'button', topic: null, group: 'bank', priority: 0 });
            case 'claim':
              return store.claimHandoff(await open(), agent.id);
            case 'transfer':
              return store.transferHandoff(await open(), { fromAgentId: null, group: 'bank', targetAgentId: null });
            case 'release':
              return store.releaseHandoff(await open(), { agentId: agent.id });
            case 'return':
              return store.endHandoff(await open(), { reason: 'returned', endedBy: agent.id, conversationState: 'bot' });
            case 'agentSays':
              return store.appendMessage({ conversationId: c.id, author: 'agent', text: `專員${i}`, agent: { id: agent.id, displayName: agent.displayName } });
            default:
              return store.closeIdleConversation(c.id, new Date(Date.now() - 5).toISOString());
          }
        };
        ops.push(run().then(() => undefined, (err: { code?: string; message?: string; cause?: { code?: string } }) => {
          failures.push({ op: kind, code: err.code ?? 'none', message: `${err.message ?? err} ${err.cause?.code ?? ''}` });
        }));
      }
      await Promise.all(ops);
      // Refusals because another instance moved first are the point; a deadlock or any store failure is not.
      expect(failures.filter((f) => !expected.has(f.code))).toEqual([]);
      expect(failures.some((f) => /deadlock|40P01/.test(f.message))).toBe(false);
      for (const c of conversations) {
        const conversation = (await s0.getConversation(c.id))!;
        const seqs = (await s0.listMessages(c.id, { limit: 1000 })).map((m) => m.seq);
        expect(seqs, c.id).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
        const episodes = await s0.listHandoffs(c.id);
        const open = episodes.filter((h) => h.status === 'queued' || h.status === 'claimed');
        expect(open.length, c.id).toBeLessThanOrEqual(1);
        // The conversation's state and its open episode agree.
        const expectedState = open[0]?.status === 'claimed' ? 'agent' : open[0]?.status === 'queued' ? 'queued' : null;
        if (expectedState) expect(conversation.state, c.id).toBe(expectedState);
        else expect(['bot', 'closed'], c.id).toContain(conversation.state);
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
