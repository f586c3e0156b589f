import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Conversation, ConversationState, Message } from '../domain/conversation.ts';
import type { Locale } from '../domain/types.ts';
import { DEFAULT_GROUP, type Agent, type AgentRole, type AgentSession } from '../domain/agent.ts';
import type { ConversationNote, CustomerProfile, Disposition, Handoff, HandoffEndReason, HandoffKind, HandoffStatus, HandoffTrigger } from '../domain/handoff.ts';
import { KefuError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { movedFrom, type ConversationPatch, type HandoffChange, type HandoffStore, type NewHandoff, type NewMessage, type NewTurn, type Store } from './store.ts';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';
import { POSTGRES_SCHEMA_PATTERN } from './postgres-schema-name.ts';
import { timeOrderedId } from './message-ids.ts';
import { startDatabaseClock, type DatabaseClock } from './database-clock.ts';

// The Store on PostgreSQL, for several kefu instances sharing one database. Every change that must be atomic is one
// transaction whose UPDATE is conditional on the state it expects: under READ COMMITTED a second writer waits for
// the first one's row lock and then re-checks the condition against the committed row, so of two agents claiming
// at once exactly one UPDATE changes a row, and a customer's messages get consecutive seqs whichever instance
// stores them. The partial unique index handoffs_open backs the queue up inside the database.

type Db = pg.Pool | pg.PoolClient;
type Row = Record<string, unknown>;

interface ConversationRow {
  id: string; channel: string; customer_id: string; state: string; locale: string; created_at: Date; updated_at: Date;
  closed_at: Date | null; customer_verified: boolean; consecutive_fallbacks: number; last_seq: number; rating_stars: number | null; rating_comment: string | null;
  rated_at: Date | null; topic_group: string | null; holder_id?: string | null; holder_name?: string | null;
}
interface MessageRow {
  id: string; conversation_id: string; seq: number; author: string; text: string; quick_replies: Message['quickReplies'];
  outcome: Message['outcome']; client_message_id: string | null; reply_to: string | null; feedback: string | null;
  agent_id: string | null; agent_name: string | null; created_at: Date;
}
interface HandoffRow {
  id: string; conversation_id: string; kind: string; trigger: string; topic: string | null; queue_group: string; priority: number;
  target_agent_id: string | null; status: string; agent_id: string | null; queued_at: Date; claimed_at: Date | null;
  first_reply_at: Date | null; ended_at: Date | null; end_reason: string | null; disposition: string | null; ended_by: string | null;
  callback_text: string | null; callback_contact_time: string | null; previous_id: string | null;
}
interface AgentRow {
  id: string; username: string; display_name: string; role: string; groups: string[]; password_hash: string; disabled: boolean;
  created_at: Date; updated_at: Date; last_login_at: Date | null;
}

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());

const toConversation = (r: ConversationRow): Conversation => ({
  id: r.id, channel: r.channel as Conversation['channel'], customerId: r.customer_id, customerVerified: r.customer_verified,
  state: r.state as ConversationState, locale: r.locale as Locale, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at), closedAt: isoOrNull(r.closed_at),
  consecutiveFallbacks: r.consecutive_fallbacks,
  rating: r.rating_stars === null ? null : { stars: r.rating_stars, comment: r.rating_comment, at: iso(r.rated_at ?? r.updated_at) },
  agentId: r.state === 'agent' ? (r.holder_id ?? null) : null, agentName: r.state === 'agent' ? (r.holder_name ?? null) : null,
  topicGroup: r.topic_group,
});
const toMessage = (r: MessageRow): Message => ({
  id: r.id, conversationId: r.conversation_id, seq: r.seq, author: r.author as Message['author'], text: r.text,
  quickReplies: r.quick_replies, outcome: r.outcome, clientMessageId: r.client_message_id, replyTo: r.reply_to,
  feedback: r.feedback as Message['feedback'], agentId: r.agent_id, agentName: r.agent_name, createdAt: iso(r.created_at),
});
const toHandoff = (r: HandoffRow): Handoff => ({
  id: r.id, conversationId: r.conversation_id, kind: r.kind as HandoffKind, trigger: r.trigger as HandoffTrigger, topic: r.topic,
  group: r.queue_group, priority: r.priority, targetAgentId: r.target_agent_id, status: r.status as HandoffStatus, agentId: r.agent_id,
  queuedAt: iso(r.queued_at), claimedAt: isoOrNull(r.claimed_at), firstReplyAt: isoOrNull(r.first_reply_at), endedAt: isoOrNull(r.ended_at),
  endReason: r.end_reason as HandoffEndReason | null, disposition: r.disposition as Disposition | null, endedBy: r.ended_by,
  callback: r.callback_text === null ? null : { text: r.callback_text, contactTime: r.callback_contact_time }, previousId: r.previous_id,
});
const toAgent = (r: AgentRow): Agent => ({
  id: r.id, username: r.username, displayName: r.display_name, role: r.role as AgentRole, groups: r.groups, disabled: r.disabled,
  createdAt: iso(r.created_at), updatedAt: iso(r.updated_at), lastLoginAt: isoOrNull(r.last_login_at),
});
const toSession = (r: Row): AgentSession => ({
  tokenHash: r.token_hash as string, agentId: r.agent_id as string, createdAt: iso(r.created_at as Date), expiresAt: iso(r.expires_at as Date),
});
const toNote = (r: Row): ConversationNote => ({
  id: r.id as string, conversationId: r.conversation_id as string, agentId: r.agent_id as string, text: r.text as string, createdAt: iso(r.created_at as Date),
});
const toProfile = (r: Row): CustomerProfile => ({
  channel: r.channel as CustomerProfile['channel'], customerId: r.customer_id as string, verified: r.verified as boolean,
  verifiedAt: isoOrNull(r.verified_at as Date | null), displayName: r.display_name as string | null, data: r.data as Record<string, string>,
  updatedAt: iso(r.updated_at as Date),
});

/** Reads conversations (alias c) with who holds them, from the claimed episode (as in the SQLite store). */
const CONVERSATION_SELECT = `SELECT c.*, h.agent_id AS holder_id, a.display_name AS holder_name FROM conversations c
  LEFT JOIN handoffs h ON h.conversation_id = c.id AND h.status = 'claimed'
  LEFT JOIN agents a ON a.id = h.agent_id`;
/** The conversation's columns, named: a prepared statement returning `*` fails once a migration adds a column. */
const CONVERSATION_COLUMNS = 'id, channel, customer_id, customer_verified, state, locale, created_at, updated_at, closed_at, consecutive_fallbacks, last_seq, rating_stars, rating_comment, rated_at, topic_group';
const MESSAGE_COLUMNS = '(id, conversation_id, seq, author, text, quick_replies, outcome, client_message_id, reply_to, agent_id, agent_name, created_at)';
// See the SQLite store: a released customer goes to the front of their priority; `ord` keeps insertion order.
const QUEUE_ORDER = `ORDER BY priority DESC, CASE kind WHEN 'chat' THEN 0 ELSE 1 END, CASE trigger WHEN 'release' THEN 0 ELSE 1 END, queued_at, ord`;
const HANDOFF_COLUMNS = `(id, conversation_id, kind, trigger, topic, queue_group, priority, target_agent_id, status, agent_id, queued_at, claimed_at,
  callback_text, callback_contact_time, previous_id)`;

/** SQLSTATEs worth running a transaction again for: a serialization failure and a deadlock PostgreSQL broke. */
const RETRYABLE = new Set(['40001', '40P01']);
/** SQLSTATEs of input PostgreSQL cannot take: bad encoding, untranslatable or invalid text, out of range. */
const INPUT_SQLSTATES = new Set(['22021', '22P05', '22P02', '22003', '22007', '22008']);
const TX_ATTEMPTS = 3;
/** seq is an integer column: a page after any larger number is empty, as it is in SQLite. */
const MAX_SEQ = 2_147_483_647;

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database */
  url: string;
  /** The schema kefu's tables live in (created when missing). */
  schema?: string;
  /** Connections in this instance's pool. */
  poolSize?: number;
  /** Instead of the database's clock (tests). */
  now?: () => Date;
  /** This instance's own clock, which the database's is kept as an offset from (tests skew it). */
  localClock?: () => number;
  log?: Logger;
}

/** A double-quoted identifier (the schema name is already restricted to lower-case letters, digits and _). */
const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Applies pending migrations in one transaction, under an advisory lock so that instances starting together take turns. */
export async function migratePostgres(client: pg.PoolClient, schema: string): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`kefu-migrations:${schema}`]);
    // Looked up first: CREATE SCHEMA IF NOT EXISTS needs the right to create schemas even when this one exists, which
    // a role given only its own schema (least privilege) does not have.
    const exists = (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1;
    if (!exists) await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    // search_path comes from the connection's options, which a URL's own ?options= would replace without a word: the
    // tables would then go to another schema.
    const current = (await client.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s;
    if (current !== schema) {
      throw new KefuError('KEFU_CONFIG_INVALID', [`database.url: connections work in schema ${current ?? '(none)'}, not ${schema}; remove options or search_path from the URL`]);
    }
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of POSTGRES_MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Opens a pool on the database at `url`, migrated; fails with KEFU_STORE_FAILED when it cannot connect. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? 'public';
  if (!POSTGRES_SCHEMA_PATTERN.test(schema)) throw new KefuError('KEFU_CONFIG_INVALID', [`database.schema: ${schema} is not a plain lower-case name`]);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    // Every connection works in kefu's schema (so the SQL below names tables without it), in UTC (dates given without
    // a zone mean what they do in SQLite), and gives up on a statement, or a transaction left idle by a cut-off
    // instance, rather than holding a conversation's row lock for as long as TCP takes to notice.
    options: `-c search_path=${quoteIdent(schema)} -c TimeZone=UTC -c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000`,
    application_name: 'kefu',
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  // An idle connection the server dropped (a restart, a failover): the pool forgets it and opens another when needed.
  pool.on('error', (err) => options.log?.warn({ err }, 'PostgreSQL connection lost; the pool replaces it'));

  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new KefuError('KEFU_STORE_FAILED', [`cannot connect to PostgreSQL: ${(err as Error).message}`], { cause: err });
  }
  // Heard while checked out (see tx below): a connection lost during the migrations fails them, not the process.
  const onMigrationError = (): void => undefined;
  client.on('error', onMigrationError);
  try {
    const applied = await migratePostgres(client, schema);
    if (applied.length > 0) options.log?.info({ applied, schema }, 'PostgreSQL migrations applied');
  } catch (err) {
    client.release(true);
    await pool.end().catch(() => undefined);
    if (err instanceof KefuError) throw err;
    throw new KefuError('KEFU_STORE_FAILED', [`migrating PostgreSQL schema ${schema}: ${(err as Error).message}`], { cause: err });
  } finally {
    client.off('error', onMigrationError);
  }
  client.release();

  // Times are the database's, whichever instance stamps them (see database-clock.ts); a test's clock wins.
  let databaseClock: DatabaseClock | null = null;
  if (options.now === undefined) {
    try {
      databaseClock = await startDatabaseClock(
        async () => Number((await pool.query<{ ms: number }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms')).rows[0]!.ms),
        { ...(options.log ? { log: options.log } : {}), ...(options.localClock ? { local: options.localClock } : {}) },
      );
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new KefuError('KEFU_STORE_FAILED', [`reading PostgreSQL's clock: ${(err as Error).message}`], { cause: err });
    }
  }
  const nowOption = options.now;
  const clockMs = nowOption ? () => nowOption().getTime() : () => databaseClock!.now();
  const now = (): string => new Date(clockMs()).toISOString();

  let ending = false;
  let closing: Promise<void> | null = null;
  const rows = async <T = Row>(db: Db, sql: string, params: unknown[] = []): Promise<T[]> => (await db.query(sql, params)).rows as T[];
  const one = async <T = Row>(db: Db, sql: string, params: unknown[] = []): Promise<T | null> => (await rows<T>(db, sql, params))[0] ?? null;

  /** Runs `fn` in a transaction on one connection, again when PostgreSQL broke a deadlock or serialization conflict. */
  const tx = async <T>(fn: (db: pg.PoolClient) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const c = await pool.connect();
      // A connection that drops while checked out emits 'error' with no pool listening: unheard, Node would end
      // the process (a database restart would take every instance down). Heard, the connection is thrown away.
      let broken: Error | undefined;
      const onError = (err: Error): void => {
        broken = err;
      };
      c.on('error', onError);
      try {
        await c.query('BEGIN');
        const result = await fn(c);
        await c.query('COMMIT');
        return result;
      } catch (err) {
        await c.query('ROLLBACK').catch((rollbackErr: unknown) => {
          broken ??= rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        });
        const code = (err as { code?: string }).code;
        if (attempt < TX_ATTEMPTS && code !== undefined && RETRYABLE.has(code)) continue;
        throw err;
      } finally {
        c.off('error', onError);
        c.release(broken);
      }
    }
  };
  /** Kefu's own errors pass; a database failure becomes KEFU_STORE_FAILED (its SQLSTATE, not the values involved). */
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    if (ending) throw new KefuError('KEFU_STORE_FAILED', ['the store is closed']);
    try {
      return await work();
    } catch (err) {
      if (err instanceof KefuError) throw err;
      const e = err as { code?: string; message?: string; constraint?: string };
      // Input PostgreSQL cannot take as it came (a NUL, bad UTF-8, a number out of range): the request's fault, not
      // the database's. The boundary refuses these first; this is what is left if one slips through.
      if (e.code !== undefined && INPUT_SQLSTATES.has(e.code)) throw new KefuError('KEFU_VALIDATION', [`a value the database cannot store (SQLSTATE ${e.code})`], { cause: err });
      // A second open episode for one conversation: the queue moved under this call.
      if (e.constraint === 'handoffs_open') throw new KefuError('KEFU_CONVERSATION_STATE', ['(conversation)', 'already with the queue or an agent', 'it moved meanwhile'], { cause: err });
      throw new KefuError('KEFU_STORE_FAILED', [`PostgreSQL${e.code ? ` ${e.code}` : ''}: ${e.message ?? String(err)}`], { cause: err });
    }
  };

  const conv = async (db: Db, id: string): Promise<Conversation | null> => {
    const r = await one<ConversationRow>(db, `${CONVERSATION_SELECT} WHERE c.id = $1`, [id]);
    return r ? toConversation(r) : null;
  };
  const mustConv = async (db: Db, id: string): Promise<Conversation> => {
    const c = await conv(db, id);
    if (!c) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [id]);
    return c;
  };
  /** A conversation row an UPDATE returned: who holds it is joined only when an agent does. */
  const fromUpdated = async (db: Db, r: ConversationRow): Promise<Conversation> => (r.state === 'agent' ? mustConv(db, r.id) : toConversation(r));
  const handoff = async (db: Db, id: string): Promise<Handoff | null> => {
    const r = await one<HandoffRow>(db, 'SELECT * FROM handoffs WHERE id = $1', [id]);
    return r ? toHandoff(r) : null;
  };
  const mustHandoff = async (db: Db, id: string): Promise<Handoff> => {
    const h = await handoff(db, id);
    if (!h) throw new KefuError('KEFU_CONVERSATION_STATE', [`(handoff ${id})`, 'unknown', 'no such handoff']);
    return h;
  };
  const mustAgent = async (db: Db, id: string): Promise<Agent> => {
    const r = await one<AgentRow>(db, 'SELECT * FROM agents WHERE id = $1', [id]);
    if (!r) throw new KefuError('KEFU_AGENT_NOT_FOUND', [id]);
    return toAgent(r);
  };

  /** The message row's parameters, in MESSAGE_COLUMNS order, for a message built here. */
  const messageParams = (m: Message): unknown[] => [
    m.id, m.conversationId, m.seq, m.author, m.text, JSON.stringify(m.quickReplies), m.outcome ? JSON.stringify(m.outcome) : null,
    m.clientMessageId, m.replyTo, m.agentId, m.agentName, m.createdAt,
  ];
  const newMessage = (input: NewMessage, seq: number, at: string): Message => ({
    id: timeOrderedId(), conversationId: input.conversationId, seq, author: input.author, text: input.text,
    quickReplies: input.quickReplies ?? [], outcome: input.outcome ?? null, clientMessageId: input.clientMessageId ?? null,
    replyTo: input.replyTo ?? null, feedback: null, agentId: input.agent?.id ?? null, agentName: input.agent?.displayName ?? null, createdAt: at,
  });
  /** Inserts messages in one statement; what was inserted is what is handed back, so nothing is read again. */
  const insertMessages = async (db: Db, messages: Message[]): Promise<void> => {
    const values = messages.map((_, i) => `(${Array.from({ length: 12 }, (_, j) => `$${i * 12 + j + 1}`).join(', ')})`).join(', ');
    await db.query(`INSERT INTO messages ${MESSAGE_COLUMNS} VALUES ${values}`, messages.flatMap(messageParams));
  };
  const byClientId = async (db: Db, conversationId: string, clientMessageId: string): Promise<Message | null> => {
    const r = await one<MessageRow>(db, 'SELECT * FROM messages WHERE conversation_id = $1 AND client_message_id = $2', [conversationId, clientMessageId]);
    return r ? toMessage(r) : null;
  };

  /** Thrown inside a transaction to roll back a seq bump when the message turns out to be stored already. */
  class Duplicate {
    constructor(readonly message: Message) {}
  }
  const duplicateResult = async (input: NewMessage, message: Message) => {
    const conversation = await mustConv(pool, input.conversationId);
    if (input.requireOpen && conversation.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [conversation.id]);
    return { message, duplicate: true, conversation };
  };

  // The conversation's row is locked by the bump (the first statement), so the check for a retried client id after
  // it sees any commit that raced it; a retry rolls the bump back.
  const append = async (db: pg.PoolClient, input: NewMessage): Promise<{ message: Message; duplicate: false; conversation: Conversation; movedFrom?: string }> => {
    const at = now();
    // An answer's group goes in the same update; null leaves the conversation's as it was. The group it had comes
    // back too, so that the live lists of a group it leaves are told.
    const bumped = await one<ConversationRow & { previous_group: string | null }>(db, `WITH before AS (SELECT topic_group FROM conversations WHERE id = $2 FOR NO KEY UPDATE)
      UPDATE conversations c SET last_seq = c.last_seq + 1, updated_at = $1, topic_group = coalesce($3::text, c.topic_group) FROM before WHERE c.id = $2
      RETURNING c.*, before.topic_group AS previous_group`, [at, input.conversationId, input.topicGroup ?? null]);
    if (!bumped) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [input.conversationId]);
    if (input.clientMessageId) {
      const existing = await byClientId(db, input.conversationId, input.clientMessageId);
      if (existing) throw new Duplicate(existing);
    }
    if (input.requireOpen && bumped.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [input.conversationId]);
    if (input.requireBot && bumped.state !== 'bot') throw new KefuError('KEFU_CONVERSATION_STATE', [input.conversationId, bumped.state, 'the bot no longer holds it']);
    const message = newMessage(input, bumped.last_seq, at);
    await insertMessages(db, [message]);
    const { previous_group: previous, ...row } = bumped;
    return { message, duplicate: false, conversation: await fromUpdated(db, row), ...movedFrom(previous, row.topic_group) };
  };

  const turn = async (db: pg.PoolClient, input: NewTurn) => {
    const customerInput: NewMessage = {
      conversationId: input.conversationId, author: 'customer', text: input.customer.text, clientMessageId: input.customer.clientMessageId ?? null, requireOpen: true,
    };
    const current = await one<{ state: string; consecutive_fallbacks: number; locale: string; topic_group: string | null }>(
      db, 'SELECT state, consecutive_fallbacks, locale, topic_group FROM conversations WHERE id = $1 FOR NO KEY UPDATE', [input.conversationId]);
    if (!current) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [input.conversationId]);
    if (customerInput.clientMessageId) {
      const existing = await byClientId(db, input.conversationId, customerInput.clientMessageId);
      if (existing) throw new Duplicate(existing);
    }
    const routedOnThis =
      current.state === 'bot' && current.consecutive_fallbacks === input.routedOn.consecutiveFallbacks && current.locale === input.routedOn.locale;
    if (!routedOnThis) {
      const r = await append(db, customerInput);
      return { customer: r.message, duplicate: false, reply: null, conversation: r.conversation };
    }
    const at = now();
    const bumped = (await one<ConversationRow>(db, `UPDATE conversations SET last_seq = last_seq + 2, consecutive_fallbacks = $1, updated_at = $2,
        topic_group = coalesce($4::text, topic_group) WHERE id = $3 RETURNING *`, [input.consecutiveFallbacks, at, input.conversationId, input.reply.topicGroup ?? null]))!;
    const customer = newMessage(customerInput, bumped.last_seq - 1, input.customer.receivedAt ?? at);
    const reply = newMessage(
      { conversationId: input.conversationId, author: 'bot', text: input.reply.text, quickReplies: input.reply.quickReplies, outcome: input.reply.outcome, replyTo: customer.id },
      bumped.last_seq, at);
    await insertMessages(db, [customer, reply]);
    return { customer, duplicate: false, reply, conversation: toConversation(bumped), ...movedFrom(current.topic_group, bumped.topic_group) };
  };

  // A customer turn is one statement, one round trip, in the usual case: the conversation's row locked, no retried
  // client id, the bot holding it in the state the reply was worked out on; then both messages are inserted with the
  // seqs the bump gave. As a transaction of its own (BEGIN, lock, check, bump, insert, COMMIT) a turn took six round
  // trips, and the server was busier speaking PostgreSQL's protocol than routing (bench:chat --postgres). Anything
  // else (a retry, a conversation that moved on or is gone) returns null and takes the transaction above, which
  // says why. A retry racing its first attempt may miss it in this statement's snapshot: the unique index on the
  // client id refuses the second insert, and the transaction then finds the first.
  const TURN_SQL = `WITH cur AS (SELECT id, state, consecutive_fallbacks, locale, topic_group FROM conversations WHERE id = $1 FOR NO KEY UPDATE),
    ok AS (SELECT cur.id FROM cur WHERE cur.state = 'bot' AND cur.consecutive_fallbacks = $3 AND cur.locale = $4
      AND ($2::text IS NULL OR NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND client_message_id = $2))),
    bumped AS (UPDATE conversations c SET last_seq = c.last_seq + 2, consecutive_fallbacks = $5, updated_at = $6, topic_group = coalesce($14::text, c.topic_group)
      FROM ok WHERE c.id = ok.id
      RETURNING ${CONVERSATION_COLUMNS.replace(/\b(\w+)\b/g, 'c.$1')}),
    inserted AS (INSERT INTO messages ${MESSAGE_COLUMNS}
      SELECT v.id, bumped.id, bumped.last_seq + v.seq_offset, v.author, v.text, v.quick_replies::json, v.outcome::json, v.client_message_id, v.reply_to, NULL, NULL, v.created_at::timestamptz
      FROM bumped, (VALUES ($7, -1, 'customer', $8, '[]', NULL, $2, NULL, $9), ($10, 0, 'bot', $11, $12, $13, NULL, $7, $6))
        AS v (id, seq_offset, author, text, quick_replies, outcome, client_message_id, reply_to, created_at)
      RETURNING 1)
    SELECT ${CONVERSATION_COLUMNS.replace(/\b(\w+)\b/g, 'bumped.$1')}, cur.topic_group AS previous_group FROM bumped, cur`;
  const turnInOneStatement = async (input: NewTurn): Promise<{ customer: Message; duplicate: false; reply: Message; conversation: Conversation; movedFrom?: string } | null> => {
    const at = now();
    const customerId = timeOrderedId();
    const replyId = timeOrderedId();
    const receivedAt = input.customer.receivedAt ?? at;
    let bumped: (ConversationRow & { previous_group: string | null }) | null;
    try {
      // Named: each connection has PostgreSQL parse and plan it once, not on every turn.
      bumped = (await pool.query<ConversationRow & { previous_group: string | null }>({ name: 'kefu-turn', text: TURN_SQL, values: [
        input.conversationId, input.customer.clientMessageId ?? null, input.routedOn.consecutiveFallbacks, input.routedOn.locale,
        input.consecutiveFallbacks, at, customerId, input.customer.text, receivedAt, replyId, input.reply.text,
        JSON.stringify(input.reply.quickReplies), JSON.stringify(input.reply.outcome), input.reply.topicGroup ?? null,
      ] })).rows[0] ?? null;
    } catch (err) {
      const e = err as { constraint?: string; code?: string };
      // 0A000: the table changed under the prepared statement (another instance migrated it); the transaction works.
      if (e.constraint === 'messages_client_id' || e.code === '0A000') return null;
      throw err;
    }
    if (!bumped) return null;
    const customer: Message = {
      id: customerId, conversationId: input.conversationId, seq: bumped.last_seq - 1, author: 'customer', text: input.customer.text, quickReplies: [],
      outcome: null, clientMessageId: input.customer.clientMessageId ?? null, replyTo: null, feedback: null, agentId: null, agentName: null, createdAt: receivedAt,
    };
    const reply: Message = {
      id: replyId, conversationId: input.conversationId, seq: bumped.last_seq, author: 'bot', text: input.reply.text, quickReplies: input.reply.quickReplies,
      outcome: input.reply.outcome, clientMessageId: null, replyTo: customerId, feedback: null, agentId: null, agentName: null, createdAt: at,
    };
    const { previous_group: previous, ...row } = bumped;
    return { customer, duplicate: false, reply, conversation: toConversation(row), ...movedFrom(previous, row.topic_group) };
  };

  // Why a conditional conversation UPDATE changed nothing, as the error the caller should see.
  const refuse = async (db: Db, id: string, wanted: string): Promise<never> => {
    const c = await mustConv(db, id);
    if (c.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [id]);
    if (c.state === 'agent') throw new KefuError('KEFU_ALREADY_CLAIMED', [id, c.agentId ?? 'another agent']);
    throw new KefuError('KEFU_CONVERSATION_STATE', [id, c.state, wanted]);
  };
  const moveConversation = async (db: Db, sql: string, id: string, at: string, wanted: string): Promise<void> => {
    if ((await db.query(sql, [id, at])).rowCount === 0) await refuse(db, id, wanted);
  };
  const insertHandoff = async (
    db: Db,
    input: Parameters<HandoffStore['enqueueHandoff']>[0],
    extra: { status: HandoffStatus; agentId: string | null; at: string; previousId?: string | null; queuedAt?: string },
  ): Promise<Handoff> => {
    const r = await one<HandoffRow>(db, `INSERT INTO handoffs ${HANDOFF_COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *`, [
      randomUUID(), input.conversationId, input.kind, input.trigger, input.topic, input.group, input.priority, input.targetAgentId ?? null,
      extra.status, extra.agentId, extra.queuedAt ?? extra.at, extra.status === 'claimed' ? extra.at : null, input.callback?.text ?? null,
      input.callback?.contactTime ?? null, extra.previousId ?? null,
    ]);
    return toHandoff(r!);
  };
  // Every transaction that changes a conversation and its episode locks the conversation's row first (appends and
  // queueing do so with their first UPDATE): one order for all of them, so two never wait on each other's rows.
  const lockConversationOf = async (db: Db, handoffId: string): Promise<void> => {
    await db.query('SELECT 1 FROM conversations WHERE id = (SELECT conversation_id FROM handoffs WHERE id = $1) FOR NO KEY UPDATE', [handoffId]);
  };
  /**
   * Ends the episode an agent holds (`end.sql`, conditional on who holds it, with the handoff id as $1 and the time as
   * $2) and queues the conversation's next episode, in one transaction: a transfer, or a release.
   */
  const handOn = (
    handoffId: string,
    end: { sql: string; params: unknown[]; refusal: string; wanted: string },
    next: (old: Handoff) => NewHandoff & { queuedAt?: string },
  ): Promise<HandoffChange> =>
    guard(() => tx(async (db) => {
      await lockConversationOf(db, handoffId);
      const at = now();
      const ended = await one<HandoffRow>(db, end.sql, [handoffId, at, ...end.params]);
      if (!ended) {
        const h = await mustHandoff(db, handoffId);
        throw new KefuError('KEFU_CONVERSATION_STATE', [h.conversationId, h.status, end.refusal]);
      }
      const old = toHandoff(ended);
      await moveConversation(db, TO_QUEUED_FROM_AGENT, old.conversationId, at, end.wanted);
      const { queuedAt, ...input } = next(old);
      const handoff = await insertHandoff(db, input, { status: 'queued', agentId: null, at, previousId: old.id, queuedAt });
      return { conversation: await mustConv(db, old.conversationId), handoff };
    }));
  const TO_QUEUED_FROM_AGENT = `UPDATE conversations SET state = 'queued', updated_at = $2 WHERE id = $1 AND state = 'agent'`;

  const store: Store = {
    kind: 'postgres',
    clock: clockMs,
    createConversation: (input) =>
      guard(async () => {
        const at = now();
        const r = await one<ConversationRow>(pool, `INSERT INTO conversations (id, channel, customer_id, customer_verified, state, locale, created_at, updated_at, topic_group)
          VALUES ($1, $2, $3, $4, 'bot', $5, $6, $6, $7) RETURNING *`, [randomUUID(), input.channel, input.customerId, input.customerVerified ?? false, input.locale, at, DEFAULT_GROUP]);
        return toConversation(r!);
      }),
    getConversation: (id) => guard(() => conv(pool, id)),
    updateConversation: (id, patch: ConversationPatch) =>
      guard(async () => {
        const params: unknown[] = [id, now()];
        const sets = ['updated_at = $2'];
        if (patch.state !== undefined) {
          params.push(patch.state);
          sets.push(`state = $${params.length}`, patch.state === 'closed' ? 'closed_at = $2' : 'closed_at = NULL');
        }
        if (patch.locale !== undefined) (params.push(patch.locale), sets.push(`locale = $${params.length}`));
        if (patch.consecutiveFallbacks !== undefined) (params.push(patch.consecutiveFallbacks), sets.push(`consecutive_fallbacks = $${params.length}`));
        if (patch.topicGroup !== undefined) (params.push(patch.topicGroup), sets.push(`topic_group = coalesce(topic_group, $${params.length})`));
        const r = await one<ConversationRow>(pool, `UPDATE conversations SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, params);
        if (!r) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [id]);
        return fromUpdated(pool, r);
      }),
    listIdleConversations: (before, limit) =>
      guard(async () => (await rows<ConversationRow>(pool, `${CONVERSATION_SELECT} WHERE c.state = 'bot' AND c.updated_at < $1 ORDER BY c.updated_at, c.id LIMIT $2`,
        [before, Math.max(0, Math.min(limit, 1000))])).map(toConversation)),
    closeIdleConversation: (id, idleSince) =>
      guard(async () => {
        const at = now();
        const r = await one<ConversationRow>(pool, `UPDATE conversations SET state = 'closed', closed_at = $2, updated_at = $2
          WHERE id = $1 AND state = 'bot' AND updated_at < $3 RETURNING *`, [id, at, idleSince]);
        return r ? toConversation(r) : null;
      }),
    findOpenConversation: (channel, customerId) =>
      guard(async () => {
        const r = await one<ConversationRow>(pool, `${CONVERSATION_SELECT} WHERE c.channel = $1 AND c.customer_id = $2 AND c.state <> 'closed' ORDER BY c.updated_at DESC LIMIT 1`,
          [channel, customerId]);
        return r ? toConversation(r) : null;
      }),
    countOpenConversations: () =>
      guard(async () => {
        const out = { bot: 0, queued: 0, agent: 0 };
        const counts = await rows<{ state: keyof typeof out; n: number }>(pool, `SELECT state, COUNT(*)::int AS n FROM conversations WHERE state IN ('bot','queued','agent') GROUP BY state`);
        for (const r of counts) out[r.state] = r.n;
        return out;
      }),
    appendMessage: (input) =>
      guard(async () => {
        try {
          return await tx((db) => append(db, input));
        } catch (err) {
          if (err instanceof Duplicate) return duplicateResult(input, err.message);
          throw err;
        }
      }),
    appendTurn: (input) =>
      guard(async () => {
        try {
          return (await turnInOneStatement(input)) ?? (await tx((db) => turn(db, input)));
        } catch (err) {
          if (!(err instanceof Duplicate)) throw err;
          const r = await duplicateResult({ conversationId: input.conversationId, author: 'customer', text: input.customer.text, requireOpen: true }, err.message);
          return { customer: r.message, duplicate: true, reply: null, conversation: r.conversation };
        }
      }),
    getMessage: (id) =>
      guard(async () => {
        const r = await one<MessageRow>(pool, 'SELECT * FROM messages WHERE id = $1', [id]);
        return r ? toMessage(r) : null;
      }),
    findMessageByClientId: (conversationId, clientMessageId) => guard(() => byClientId(pool, conversationId, clientMessageId)),
    findReply: (conversationId, customerMessageId) =>
      guard(async () => {
        const r = await one<MessageRow>(pool, `SELECT * FROM messages WHERE conversation_id = $1 AND reply_to = $2
          AND seq > (SELECT seq FROM messages WHERE id = $2 AND conversation_id = $1) ORDER BY seq LIMIT 1`, [conversationId, customerMessageId]);
        return r ? toMessage(r) : null;
      }),
    listMessages: (conversationId, options = {}) =>
      guard(async () => (await rows<MessageRow>(pool, 'SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
        [conversationId, Math.min(options.afterSeq ?? 0, MAX_SEQ), Math.min(options.limit ?? 500, 1000)])).map(toMessage)),
    rateConversation: (id, stars, comment) =>
      guard(async () => {
        const r = await one<ConversationRow>(pool, 'UPDATE conversations SET rating_stars = $1, rating_comment = $2, rated_at = $3, updated_at = $3 WHERE id = $4 RETURNING *',
          [stars, comment, now(), id]);
        if (!r) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [id]);
        return fromUpdated(pool, r);
      }),
    setFeedback: (messageId, feedback) =>
      guard(async () => {
        const r = await one<MessageRow>(pool, 'UPDATE messages SET feedback = $1 WHERE id = $2 RETURNING *', [feedback, messageId]);
        if (!r) throw new KefuError('KEFU_MESSAGE_NOT_FOUND', [messageId]);
        return toMessage(r);
      }),

    enqueueHandoff: (input) =>
      guard(() => tx(async (db) => {
        const at = now();
        await moveConversation(db, `UPDATE conversations SET state = 'queued', consecutive_fallbacks = 0, updated_at = $2 WHERE id = $1 AND state = 'bot'`,
          input.conversationId, at, 'only a conversation the bot holds can join the queue');
        const h = await insertHandoff(db, input, { status: 'queued', agentId: null, at });
        return { conversation: await mustConv(db, input.conversationId), handoff: h };
      })),
    pullConversation: (input) =>
      guard(() => tx(async (db) => {
        const at = now();
        await moveConversation(db, `UPDATE conversations SET state = 'agent', consecutive_fallbacks = 0, updated_at = $2 WHERE id = $1 AND state = 'bot'`,
          input.conversationId, at, 'claim it from the queue instead');
        const h = await insertHandoff(db, input, { status: 'claimed', agentId: input.agentId, at });
        return { conversation: await mustConv(db, input.conversationId), handoff: h };
      })),
    claimHandoff: (handoffId, agentId) =>
      guard(() => tx(async (db) => {
        await lockConversationOf(db, handoffId);
        const at = now();
        const claimed = await one<HandoffRow>(db, `UPDATE handoffs SET status = 'claimed', agent_id = $2, claimed_at = $3 WHERE id = $1 AND status = 'queued' RETURNING *`,
          [handoffId, agentId, at]);
        if (!claimed) {
          const h = await mustHandoff(db, handoffId);
          if (h.status === 'claimed') throw new KefuError('KEFU_ALREADY_CLAIMED', [h.conversationId, h.agentId ?? 'another agent']);
          throw new KefuError('KEFU_CONVERSATION_STATE', [h.conversationId, 'no longer waiting', 'the customer left or it was handed on']);
        }
        // The queue entry and the conversation move together, or neither does.
        await moveConversation(db, `UPDATE conversations SET state = 'agent', updated_at = $2 WHERE id = $1 AND state = 'queued'`,
          claimed.conversation_id, at, 'it is not waiting in the queue');
        return { conversation: await mustConv(db, claimed.conversation_id), handoff: toHandoff(claimed) };
      })),
    transferHandoff: (handoffId, input) =>
      handOn(handoffId, {
        sql: `UPDATE handoffs SET status = 'ended', ended_at = $2, end_reason = 'transferred', ended_by = $3
          WHERE id = $1 AND status = 'claimed' AND ($3::text IS NULL OR agent_id = $3) RETURNING *`,
        params: [input.fromAgentId], refusal: 'only the agent holding it can transfer it', wanted: 'an agent must hold it to transfer it',
      }, (old) => ({
        conversationId: old.conversationId, kind: old.kind, trigger: 'transfer', topic: old.topic, group: input.group, priority: old.priority,
        targetAgentId: input.targetAgentId, callback: old.callback,
      })),
    releaseHandoff: (handoffId, input) =>
      handOn(handoffId, {
        sql: `UPDATE handoffs SET status = 'ended', ended_at = $2, end_reason = 'released', ended_by = NULL
          WHERE id = $1 AND status = 'claimed' AND agent_id = $3 RETURNING *`,
        params: [input.agentId], refusal: 'only an episode the agent still holds can be released', wanted: 'an agent must hold it to release it',
      }, (old) => ({
        conversationId: old.conversationId, kind: old.kind, trigger: 'release', topic: old.topic, group: old.group, priority: old.priority,
        targetAgentId: null, callback: old.callback,
        // The customer keeps the time they have waited: the next episode is queued as of the released one.
        queuedAt: old.queuedAt,
      })),
    endHandoff: (handoffId, input) =>
      guard(() => tx(async (db) => {
        await lockConversationOf(db, handoffId);
        const at = now();
        const ended = await one<HandoffRow>(db, `UPDATE handoffs SET status = 'ended', ended_at = $2, end_reason = $3, disposition = $4, ended_by = $5
          WHERE id = $1 AND status IN ('queued','claimed') RETURNING *`, [handoffId, at, input.reason, input.disposition ?? null, input.endedBy]);
        if (!ended) {
          const h = await mustHandoff(db, handoffId);
          throw new KefuError('KEFU_CONVERSATION_STATE', [h.conversationId, h.status, 'this handoff is already over']);
        }
        if (input.conversationState) {
          await db.query(`UPDATE conversations SET state = $2, consecutive_fallbacks = 0, updated_at = $3,
            closed_at = CASE WHEN $2 = 'closed' THEN $3::timestamptz ELSE NULL END WHERE id = $1 AND state <> 'closed'`,
          [ended.conversation_id, input.conversationState, at]);
        }
        return { conversation: await mustConv(db, ended.conversation_id), handoff: toHandoff(ended) };
      })),
    markFirstReply: (handoffId) =>
      guard(async () => {
        const r = await one<HandoffRow>(pool, 'UPDATE handoffs SET first_reply_at = COALESCE(first_reply_at, $2) WHERE id = $1 RETURNING *', [handoffId, now()]);
        return r ? toHandoff(r) : mustHandoff(pool, handoffId);
      }),
    setHandoffCallback: (handoffId, callback) =>
      guard(async () => {
        const r = await one<HandoffRow>(pool, `UPDATE handoffs SET kind = 'callback', callback_text = $2, callback_contact_time = $3 WHERE id = $1 AND status = 'queued' RETURNING *`,
          [handoffId, callback.text, callback.contactTime]);
        if (r) return toHandoff(r);
        const h = await mustHandoff(pool, handoffId);
        throw new KefuError('KEFU_CONVERSATION_STATE', [h.conversationId, h.status, 'only a waiting customer can leave a message for a call back']);
      }),
    getHandoff: (id) => guard(() => handoff(pool, id)),
    getOpenHandoff: (conversationId) =>
      guard(async () => {
        const r = await one<HandoffRow>(pool, `SELECT * FROM handoffs WHERE conversation_id = $1 AND status IN ('queued','claimed')`, [conversationId]);
        return r ? toHandoff(r) : null;
      }),
    listHandoffs: (conversationId) =>
      guard(async () => (await rows<HandoffRow>(pool, 'SELECT * FROM handoffs WHERE conversation_id = $1 ORDER BY queued_at, ord', [conversationId])).map(toHandoff)),
    listQueue: (filter = {}) =>
      guard(async () => {
        const found = filter.groups === undefined
          ? await rows<HandoffRow>(pool, `SELECT * FROM handoffs WHERE status = 'queued' ${QUEUE_ORDER}`)
          : await rows<HandoffRow>(pool, `SELECT * FROM handoffs WHERE status = 'queued' AND (
              (target_agent_id IS NULL AND queue_group = ANY($1::text[])) OR target_agent_id = $2) ${QUEUE_ORDER}`, [filter.groups, filter.agentId ?? null]);
        return found.map(toHandoff);
      }),
    listClaimed: (agentId) =>
      guard(async () => (await rows<HandoffRow>(pool, `SELECT * FROM handoffs WHERE status = 'claimed' AND agent_id = $1 ORDER BY claimed_at, ord`, [agentId])).map(toHandoff)),
    handoffStats: (group, { since, limit }) =>
      guard(async () => {
        const r = (await one<{ samples: number; wait: number | null; handling: number | null }>(pool, `SELECT COUNT(*)::int AS samples,
            AVG(CASE WHEN trigger NOT IN ('pull', 'release') THEN EXTRACT(EPOCH FROM claimed_at - queued_at) END)::float8 AS wait,
            AVG(CASE WHEN ended_at IS NOT NULL THEN EXTRACT(EPOCH FROM ended_at - claimed_at) END)::float8 AS handling
          FROM (SELECT * FROM handoffs WHERE queue_group = $1 AND claimed_at IS NOT NULL AND claimed_at >= $2 ORDER BY claimed_at DESC LIMIT $3) recent`,
        [group, since, limit]))!;
        return { samples: r.samples, avgWaitSeconds: r.wait, avgHandlingSeconds: r.handling };
      }),
    listConversationsByState: (state, options = {}) =>
      guard(async () => (await rows<ConversationRow>(pool, `${CONVERSATION_SELECT} WHERE c.state = $1 AND ($2::timestamptz IS NULL OR c.updated_at >= $2)
          AND ($4::text[] IS NULL OR c.topic_group IS NULL OR c.topic_group = ANY($4))
          ORDER BY c.updated_at DESC, c.id LIMIT $3`, [state, options.updatedAfter || null, Math.min(options.limit ?? 100, 1000), options.groups ? [...options.groups] : null])).map(toConversation)),
    latestMessages: (conversationId, limit) =>
      guard(async () => (await rows<MessageRow>(pool, 'SELECT * FROM (SELECT * FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2) latest ORDER BY seq',
        [conversationId, Math.max(0, Math.min(limit, 1000))])).map(toMessage)),
    latestMessagesOf: (conversationIds, limit) =>
      guard(async () => {
        const found = await rows<MessageRow>(pool, `SELECT latest.* FROM unnest($1::text[]) AS wanted(id)
          CROSS JOIN LATERAL (SELECT * FROM messages WHERE conversation_id = wanted.id ORDER BY seq DESC LIMIT $2) latest
          ORDER BY latest.conversation_id, latest.seq`, [[...new Set(conversationIds)], Math.max(0, Math.min(limit, 1000))]);
        const out: Record<string, Message[]> = {};
        for (const r of found) (out[r.conversation_id] ??= []).push(toMessage(r));
        return out;
      }),
    getConversations: (ids) =>
      guard(async () => (await rows<ConversationRow>(pool, `${CONVERSATION_SELECT} WHERE c.id = ANY($1::text[])`, [[...new Set(ids)]])).map(toConversation)),
    addNote: ({ conversationId, agentId, text }) =>
      guard(async () => {
        await mustConv(pool, conversationId);
        const r = await one(pool, 'INSERT INTO conversation_notes (id, conversation_id, agent_id, text, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *',
          [randomUUID(), conversationId, agentId, text, now()]);
        return toNote(r!);
      }),
    listNotes: (conversationId) =>
      guard(async () => (await rows(pool, 'SELECT * FROM conversation_notes WHERE conversation_id = $1 ORDER BY created_at, ord', [conversationId])).map(toNote)),
    getCustomerProfile: (channel, customerId) =>
      guard(async () => {
        const r = await one(pool, 'SELECT * FROM customer_profiles WHERE channel = $1 AND customer_id = $2', [channel, customerId]);
        return r ? toProfile(r) : null;
      }),
    upsertCustomerProfile: (p) =>
      guard(async () => {
        const r = await one(pool, `INSERT INTO customer_profiles (channel, customer_id, verified, verified_at, display_name, data, updated_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7)
          ON CONFLICT (channel, customer_id) DO UPDATE SET verified = excluded.verified, verified_at = excluded.verified_at,
            display_name = excluded.display_name, data = excluded.data, updated_at = excluded.updated_at RETURNING *`,
        [p.channel, p.customerId, p.verified, p.verifiedAt, p.displayName, JSON.stringify(p.data), now()]);
        return toProfile(r!);
      }),

    createAgent: (input) =>
      guard(async () => {
        try {
          const at = now();
          const r = await one<AgentRow>(pool, `INSERT INTO agents (id, username, display_name, role, groups, password_hash, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *`,
          [randomUUID(), input.username, input.displayName, input.role, JSON.stringify(input.groups), input.passwordHash, at]);
          return toAgent(r!);
        } catch (e) {
          if ((e as { constraint?: string }).constraint === 'agents_username_unique') throw new KefuError('KEFU_AGENT_EXISTS', [input.username], { cause: e });
          throw e;
        }
      }),
    getAgent: (id) =>
      guard(async () => {
        const r = await one<AgentRow>(pool, 'SELECT * FROM agents WHERE id = $1', [id]);
        return r ? toAgent(r) : null;
      }),
    findAgentByUsername: (username) =>
      guard(async () => {
        const r = await one<AgentRow>(pool, 'SELECT * FROM agents WHERE username = $1', [username]);
        return r ? toAgent(r) : null;
      }),
    getPasswordHash: (agentId) =>
      guard(async () => (await one<{ password_hash: string }>(pool, 'SELECT password_hash FROM agents WHERE id = $1', [agentId]))?.password_hash ?? null),
    listAgents: () => guard(async () => (await rows<AgentRow>(pool, 'SELECT * FROM agents ORDER BY username')).map(toAgent)),
    updateAgent: (id, patch) =>
      guard(async () => {
        const params: unknown[] = [id, now()];
        const sets = ['updated_at = $2'];
        const set = (column: string, value: unknown): void => {
          params.push(value);
          sets.push(`${column} = $${params.length}`);
        };
        if (patch.displayName !== undefined) set('display_name', patch.displayName);
        if (patch.role !== undefined) set('role', patch.role);
        if (patch.groups !== undefined) set('groups', JSON.stringify(patch.groups));
        if (patch.disabled !== undefined) set('disabled', patch.disabled);
        if (patch.lastLoginAt !== undefined) set('last_login_at', patch.lastLoginAt);
        if (patch.passwordHash !== undefined) set('password_hash', patch.passwordHash);
        const r = await one<AgentRow>(pool, `UPDATE agents SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, params);
        if (!r) throw new KefuError('KEFU_AGENT_NOT_FOUND', [id]);
        return toAgent(r);
      }),
    createSession: (s) =>
      guard(async () => toSession((await one(pool, 'INSERT INTO agent_sessions (token_hash, agent_id, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING *',
        [s.tokenHash, s.agentId, s.createdAt, s.expiresAt]))!)),
    getSession: (tokenHash) =>
      guard(async () => {
        const r = await one(pool, 'SELECT * FROM agent_sessions WHERE token_hash = $1', [tokenHash]);
        return r ? toSession(r) : null;
      }),
    deleteSession: (tokenHash) => guard(async () => ((await pool.query('DELETE FROM agent_sessions WHERE token_hash = $1', [tokenHash])).rowCount ?? 0) > 0),
    deleteAgentSessions: (agentId) =>
      guard(async () => (await rows<{ token_hash: string }>(pool, 'DELETE FROM agent_sessions WHERE agent_id = $1 RETURNING token_hash', [agentId])).map((r) => r.token_hash)),
    deleteExpiredSessions: (at) => guard(async () => (await pool.query('DELETE FROM agent_sessions WHERE expires_at < $1', [at])).rowCount ?? 0),

    close() {
      ending = true;
      databaseClock?.stop();
      closing ??= pool.end();
      return closing;
    },
  };
  return store;
}
