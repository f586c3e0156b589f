import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { BACKSTOP_AUTOCHECKPOINT_PAGES, CHECKPOINTER_ALIVE, DEFAULT_AUTOCHECKPOINT_PAGES, WAL_FRAMES } from './sqlite-checkpointer.ts';
import type { Conversation, ConversationState, Message } from '../domain/conversation.ts';
import { DEFAULT_GROUP } from '../domain/agent.ts';
import type { Locale } from '../domain/types.ts';
import { KefuError } from '../errors.ts';
import { movedFrom, type ConversationPatch, type NewConversation, type NewMessage, type NewTurn, type Store } from './store.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';
import { timeOrderedId } from './message-ids.ts';
import { sqliteHandoffStore } from './sqlite-handoff-store.ts';

/** How long a statement waits for another connection's lock. */
const BUSY_TIMEOUT_MS = 5_000;
/** Times a due WAL restart may wait for the next commit because a batch is open (see restartWalIfDue). */
const MAX_RESTARTS_PUT_OFF = 3;

export interface ConversationRow {
  id: string; channel: string; customer_id: string; state: string; locale: string; created_at: string; updated_at: string;
  closed_at: string | null; customer_verified: number; consecutive_fallbacks: number; last_seq: number; rating_stars: number | null; rating_comment: string | null; rated_at: string | null;
  topic_group: string | null;
  /** Joined by CONVERSATION_SELECT: the agent of the claimed episode. */
  holder_id: string | null; holder_name: string | null;
}
export interface MessageRow {
  id: string; conversation_id: string; seq: number; author: string; text: string; quick_replies: string; outcome: string | null;
  client_message_id: string | null; reply_to: string | null; feedback: string | null; agent_id: string | null; agent_name: string | null; created_at: string;
}

/**
 * Reads conversations (alias c) with who holds them: derived from the claimed handoff episode rather than kept in a
 * column of its own, so it can never disagree with the queue. Add WHERE / ORDER BY on c's columns.
 */
const CONVERSATION_SELECT = `SELECT c.*, h.agent_id AS holder_id, a.display_name AS holder_name FROM conversations c
  LEFT JOIN handoffs h ON h.conversation_id = c.id AND h.status = 'claimed'
  LEFT JOIN agents a ON a.id = h.agent_id`;

const toConversation = (r: ConversationRow): Conversation => ({
  id: r.id, channel: r.channel as Conversation['channel'], customerId: r.customer_id, customerVerified: r.customer_verified === 1,
  state: r.state as ConversationState, locale: r.locale as Locale, createdAt: r.created_at, updatedAt: r.updated_at, closedAt: r.closed_at,
  consecutiveFallbacks: r.consecutive_fallbacks,
  rating: r.rating_stars === null ? null : { stars: r.rating_stars, comment: r.rating_comment, at: r.rated_at ?? r.updated_at },
  agentId: r.state === 'agent' ? r.holder_id : null, agentName: r.state === 'agent' ? r.holder_name : null, topicGroup: r.topic_group,
});
const toMessage = (r: MessageRow): Message => ({
  id: r.id, conversationId: r.conversation_id, seq: r.seq, author: r.author as Message['author'], text: r.text,
  quickReplies: JSON.parse(r.quick_replies) as Message['quickReplies'], outcome: r.outcome === null ? null : (JSON.parse(r.outcome) as Message['outcome']),
  clientMessageId: r.client_message_id, replyTo: r.reply_to, feedback: r.feedback as Message['feedback'],
  agentId: r.agent_id, agentName: r.agent_name, createdAt: r.created_at,
});

/** Applies pending migrations in one transaction each; returns the versions applied. */
export function migrateSqlite(db: Database.Database): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  const applied: number[] = [];
  for (const m of SQLITE_MIGRATIONS) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    })();
    applied.push(m.version);
  }
  return applied;
}

/** config.database.synchronous: when a commit counts as written (see config.ts). */
export type SqliteSynchronous = 'normal' | 'full';

/** The connection settings every kefu SQLite connection that writes runs with. */
export function applyPragmas(db: Database.Database, synchronous: SqliteSynchronous): void {
  // WAL lets readers run beside the writer. NORMAL is durable across a process crash (only an OS crash or a power cut
  // can lose the last commits), the usual trade for a chat log written on every message; FULL adds an fsync of the
  // WAL at each commit, which the group commit shares among the turns it carries.
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
}

/**
 * Opens (creating if needed) the SQLite database at `path` (':memory:' for tests), in WAL mode, migrated. With
 * `externalCheckpoints`, another connection copies the WAL into the file (sqlite-checkpointer.ts), this one restarts
 * the WAL when that connection says it is due, and checkpoints by itself only as a backstop.
 */
export function openSqliteStore(
  path: string,
  options: { now?: () => Date; externalCheckpoints?: { walState: Int32Array; restartFrames: number }; synchronous?: SqliteSynchronous } = {},
): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  applyPragmas(db, options.synchronous ?? 'full');
  migrateSqlite(db);
  const now = (): string => (options.now ?? (() => new Date()))().toISOString();

  const q = {
    insertConv: db.prepare(`INSERT INTO conversations (id, channel, customer_id, customer_verified, state, locale, created_at, updated_at, topic_group)
      VALUES (@id, @channel, @customerId, @customerVerified, 'bot', @locale, @now, @now, @topicGroup)`),
    getConv: db.prepare(`${CONVERSATION_SELECT} WHERE c.id = ?`),
    idle: db.prepare(`${CONVERSATION_SELECT} WHERE c.state = 'bot' AND c.updated_at < ? ORDER BY c.updated_at, c.id LIMIT ?`),
    closeIdle: db.prepare(`UPDATE conversations SET state = 'closed', closed_at = @now, updated_at = @now
      WHERE id = @id AND state = 'bot' AND updated_at < @idleSince RETURNING *`),
    findOpen: db.prepare(`${CONVERSATION_SELECT} WHERE c.channel = ? AND c.customer_id = ? AND c.state != 'closed' ORDER BY c.updated_at DESC LIMIT 1`),
    // A range of conversations_state_updated per open state: as many entries read as there are open conversations.
    countOpen: db.prepare(`SELECT state, COUNT(*) AS n FROM conversations WHERE state IN ('bot','queued','agent') GROUP BY state`),
    // RETURNING * hands back the conversation as the append leaves it, so a turn needs no read after its writes. An
    // answer's group goes in the same update (the row is rewritten anyway); null leaves the conversation's as it was.
    bumpSeq: db.prepare('UPDATE conversations SET last_seq = last_seq + 1, updated_at = @now, topic_group = coalesce(@group, topic_group) WHERE id = @id RETURNING *'),
    bumpTurn: db.prepare(`UPDATE conversations SET last_seq = last_seq + 2, consecutive_fallbacks = @fallbacks, updated_at = @now, topic_group = coalesce(@group, topic_group)
      WHERE id = @id RETURNING *`),
    routeState: db.prepare('SELECT state, consecutive_fallbacks, locale, topic_group FROM conversations WHERE id = ?'),
    groupOf: db.prepare('SELECT topic_group FROM conversations WHERE id = ?').pluck(),
    insertMsg: db.prepare(`INSERT INTO messages (id, conversation_id, seq, author, text, quick_replies, outcome, client_message_id, reply_to, agent_id, agent_name, created_at)
      VALUES (@id, @conversationId, @seq, @author, @text, @quickReplies, @outcome, @clientMessageId, @replyTo, @agentId, @agentName, @now)`),
    byClientId: db.prepare('SELECT * FROM messages WHERE conversation_id = ? AND client_message_id = ?'),
    getMsg: db.prepare('SELECT * FROM messages WHERE id = ?'),
    reply: db.prepare(`SELECT * FROM messages WHERE conversation_id = @conversationId AND reply_to = @messageId
      AND seq > (SELECT seq FROM messages WHERE id = @messageId AND conversation_id = @conversationId) ORDER BY seq LIMIT 1`),
    list: db.prepare('SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
    rate: db.prepare('UPDATE conversations SET rating_stars = ?, rating_comment = ?, rated_at = ?, updated_at = ? WHERE id = ?'),
    feedback: db.prepare('UPDATE messages SET feedback = ? WHERE id = ?'),
  };

  // One statement per combination of patched fields (a handful), prepared once: compiling SQL on every turn showed
  // in the profile of bench:chat.
  const updateStatements = new Map<string, Database.Statement>();
  const updateStatement = (sets: string): Database.Statement => {
    let st = updateStatements.get(sets);
    if (!st) updateStatements.set(sets, (st = db.prepare(`UPDATE conversations SET ${sets} WHERE id = @id`)));
    return st;
  };

  const external = options.externalCheckpoints;
  // The checkpoint thread has copied nearly all of a long WAL: restarting it now copies only the frames of its last
  // interval, and this connection, the only writer, waits for no lock to do it. Run after the batch's results are
  // on their way (two event-loop turns after the COMMIT), so no caller waits for it.
  let restartQueued = false;
  // Turns at which a batch was open, so the restart waited for the next commit. A store thread that receives a call
  // in every turn always has one open then: after a few the open batch is committed first (its callers wait for the
  // restart), else the WAL would grow to the backstop, which checkpoints inside a COMMIT.
  let restartsPutOff = 0;
  // SQLite's own checkpoint while no checkpoint thread runs (before it has started, or after it failed or died),
  // only a backstop while one does: followed after every commit.
  let ownCheckpoints = true;
  const followCheckpointer = (): void => {
    if (!external) return;
    const alive = Atomics.load(external.walState, CHECKPOINTER_ALIVE) === 1;
    if (alive !== ownCheckpoints) return;
    ownCheckpoints = !alive;
    db.pragma(`wal_autocheckpoint = ${alive ? BACKSTOP_AUTOCHECKPOINT_PAGES : DEFAULT_AUTOCHECKPOINT_PAGES}`);
  };
  const restartWalIfDue = (): void => {
    if (!external || restartQueued || Atomics.load(external.walState, WAL_FRAMES) < external.restartFrames) return;
    restartQueued = true;
    setImmediate(() =>
      setImmediate(() => {
        if (!db.open) return void (restartQueued = false);
        if (db.inTransaction) {
          if (++restartsPutOff < MAX_RESTARTS_PUT_OFF) return void (restartQueued = false);
          commitBatch(); // restartQueued is still set: it does not queue another restart
        }
        restartQueued = false;
        restartsPutOff = 0;
        if (db.inTransaction) return; // still open only if its COMMIT and ROLLBACK both failed
        // RESTART waits (busy handler) for every reader to leave the WAL: a connection holding an old snapshot (a
        // backup, litestream, a shell) would stop this thread, and every call of the server, for the whole
        // busy_timeout. Without a wait it copies what it can, like PASSIVE, and the next pass tries again.
        db.pragma('busy_timeout = 0');
        try {
          db.pragma('wal_checkpoint(RESTART)');
        } catch {
          // Failed: the checkpoint thread tries again, and the backstop bounds the WAL meanwhile.
        } finally {
          db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
        }
        Atomics.store(external.walState, WAL_FRAMES, 0);
      }),
    );
  };

  // Group commit. A commit writes every page it touched to the WAL (and now and then checkpoints with an fsync);
  // at two or three commits per customer message that was the largest single cost in bench:chat's profile
  // (a fifth of the server's CPU). So every write made in one turn of the event loop joins one transaction,
  // committed by setImmediate, and each write's promise settles only after that COMMIT: nothing is acknowledged
  // before it is stored. Each write runs in its own savepoint, so one that fails leaves the rest of the batch intact;
  // if the COMMIT itself fails (disk full), every write in the batch fails. Reads on this connection see the batch's
  // writes at once. Under saturation whole waves of turns share a commit, which lets V8's heap grow further between
  // collections (bench:chat: peak RSS about 450 MB rather than 330 MB with 500 flooding conversations).
  let batch: ((err: unknown) => void)[] | null = null;
  const commitBatch = (): void => {
    const waiting = batch;
    if (waiting === null) return;
    batch = null;
    let failure: unknown = null;
    try {
      if (db.inTransaction) db.exec('COMMIT');
    } catch (err) {
      failure = err;
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // The COMMIT's error is the one to report.
      }
    }
    for (const settle of waiting) settle(failure);
    followCheckpointer();
    restartWalIfDue();
  };
  /** Settles once the batch open now (if any) has committed. */
  const committed = (): Promise<void> =>
    batch === null ? Promise.resolve() : new Promise((resolve, reject) => batch!.push((err) => (err ? reject(err) : resolve())));
  // Made once: better-sqlite3 builds a wrapper per db.transaction() call. Nested in the batch, it is a savepoint.
  const inSavepoint = db.transaction((fn: () => unknown) => fn());
  const write = async <T>(fn: () => T): Promise<T> => {
    if (batch === null) {
      db.exec('BEGIN IMMEDIATE');
      batch = [];
      setImmediate(commitBatch);
    }
    const result = inSavepoint(fn) as T;
    await committed();
    return result;
  };
  // The handoff store's writes join an open batch too, so its callers also hear back only after the COMMIT (its reads
  // wait for it as well, at most one turn of the event loop).
  const afterCommit = <T extends object>(methods: T): T =>
    Object.fromEntries(
      Object.entries(methods).map(([name, fn]) => [
        name,
        typeof fn === 'function'
          ? async (...args: unknown[]) => {
              const value: unknown = await (fn as (...a: unknown[]) => unknown)(...args);
              await committed();
              return value;
            }
          : fn,
      ]),
    ) as T;

  const mustGetConv = (id: string): Conversation => {
    const row = q.getConv.get(id) as ConversationRow | undefined;
    if (!row) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [id]);
    return toConversation(row);
  };

  /** The message already stored under the input's client id, if any (a retry), with its conversation. */
  const duplicateOf = (input: NewMessage): { message: Message; conversation: Conversation } | null => {
    if (!input.clientMessageId) return null;
    const existing = q.byClientId.get(input.conversationId, input.clientMessageId) as MessageRow | undefined;
    if (!existing) return null;
    const conversation = mustGetConv(input.conversationId);
    if (input.requireOpen && conversation.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [conversation.id]);
    return { message: toMessage(existing), conversation };
  };

  // The stored row is not read back: the message is built from what was inserted, which saves a read and a
  // JSON.parse of the router's trace on every bot turn (bench:chat's profile).
  const insertMessage = (input: NewMessage, seq: number, at: string): Message => {
    const message: Message = {
      id: timeOrderedId(), conversationId: input.conversationId, seq, author: input.author, text: input.text,
      quickReplies: input.quickReplies ?? [], outcome: input.outcome ?? null, clientMessageId: input.clientMessageId ?? null,
      replyTo: input.replyTo ?? null, feedback: null, agentId: input.agent?.id ?? null, agentName: input.agent?.displayName ?? null, createdAt: at,
    };
    q.insertMsg.run({
      id: message.id, conversationId: message.conversationId, seq: message.seq, author: message.author, text: message.text,
      quickReplies: JSON.stringify(message.quickReplies), outcome: message.outcome ? JSON.stringify(message.outcome) : null,
      clientMessageId: message.clientMessageId, replyTo: message.replyTo, agentId: message.agentId, agentName: message.agentName, now: at,
    });
    return message;
  };

  // Runs inside write()'s savepoint.
  const append = (input: NewMessage): { message: Message; duplicate: boolean; conversation: Conversation; movedFrom?: string } => {
    const duplicate = duplicateOf(input);
    if (duplicate) return { ...duplicate, duplicate: true };
    const at = now();
    // The group it had, for an answer that names one: the live lists of the group it leaves are told.
    const before = input.topicGroup ? (q.groupOf.get(input.conversationId) as string | null | undefined) : null;
    const bumped = q.bumpSeq.get({ now: at, group: input.topicGroup ?? null, id: input.conversationId }) as ConversationRow | undefined;
    if (!bumped) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [input.conversationId]);
    // Refused after the bump: the savepoint write() wraps this in rolls the bump back with the error.
    if (input.requireOpen && bumped.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [input.conversationId]);
    if (input.requireBot && bumped.state !== 'bot') throw new KefuError('KEFU_CONVERSATION_STATE', [input.conversationId, bumped.state, 'the bot no longer holds it']);
    const message = insertMessage(input, bumped.last_seq, at);
    // Who holds the conversation is joined from the queue; only a conversation an agent holds has anyone to join.
    const conversation = bumped.state === 'agent' ? mustGetConv(input.conversationId) : toConversation({ ...bumped, holder_id: null, holder_name: null });
    return { message, duplicate: false, conversation, ...movedFrom(before, bumped.topic_group) };
  };

  // Runs inside write()'s savepoint. One update of the conversation for both messages: its row and its indexes on
  // updated_at are rewritten once per turn instead of twice, and the fallback count needs no write of its own.
  const turn = (input: NewTurn): { customer: Message; duplicate: boolean; reply: Message | null; conversation: Conversation } => {
    const customerInput: NewMessage = {
      conversationId: input.conversationId, author: 'customer', text: input.customer.text, clientMessageId: input.customer.clientMessageId ?? null, requireOpen: true,
    };
    const duplicate = duplicateOf(customerInput);
    if (duplicate) return { customer: duplicate.message, duplicate: true, reply: null, conversation: duplicate.conversation };
    const current = q.routeState.get(input.conversationId) as { state: string; consecutive_fallbacks: number; locale: string; topic_group: string | null } | undefined;
    const routedOnThis =
      current?.state === 'bot' && current.consecutive_fallbacks === input.routedOn.consecutiveFallbacks && current.locale === input.routedOn.locale;
    if (!routedOnThis) {
      // Gone, closed (append refuses both), with a person, or changed since: the reply was worked out for another state.
      const r = append(customerInput);
      return { customer: r.message, duplicate: false, reply: null, conversation: r.conversation };
    }
    const at = now();
    const bumped = q.bumpTurn.get({ now: at, id: input.conversationId, fallbacks: input.consecutiveFallbacks, group: input.reply.topicGroup ?? null }) as ConversationRow;
    const customer = insertMessage(customerInput, bumped.last_seq - 1, input.customer.receivedAt ?? at);
    const reply = insertMessage(
      { conversationId: input.conversationId, author: 'bot', text: input.reply.text, quickReplies: input.reply.quickReplies, outcome: input.reply.outcome, replyTo: customer.id },
      bumped.last_seq,
      at,
    );
    return { customer, duplicate: false, reply, conversation: toConversation({ ...bumped, holder_id: null, holder_name: null }), ...movedFrom(current.topic_group, bumped.topic_group) };
  };

  return {
    kind: 'sqlite',
    clock: () => (options.now ?? (() => new Date()))().getTime(),
    // 2 is FULL (3, EXTRA, is not set by kefu).
    durability: async () => ((db.pragma('synchronous', { simple: true }) as number) >= 2 ? 'full' : 'normal'),
    // The handoff queue, console accounts, notes and profiles: the same connection, so one transaction spans both.
    ...afterCommit(sqliteHandoffStore(db, { now, conversationSelect: CONVERSATION_SELECT, toConversation, toMessage })),
    createConversation(input: NewConversation) {
      return write(() => {
        const id = randomUUID();
        q.insertConv.run({
          id, channel: input.channel, customerId: input.customerId, customerVerified: input.customerVerified ? 1 : 0, locale: input.locale, now: now(), topicGroup: DEFAULT_GROUP,
        });
        return mustGetConv(id);
      });
    },
    async getConversation(id) {
      const row = q.getConv.get(id) as ConversationRow | undefined;
      return row ? toConversation(row) : null;
    },
    updateConversation(id, patch: ConversationPatch) {
      return write(() => {
        const sets: string[] = ['updated_at = @now'];
        const at = now();
        const params: Record<string, unknown> = { id, now: at };
        if (patch.state !== undefined) {
          sets.push('state = @state');
          params.state = patch.state;
          sets.push(patch.state === 'closed' ? 'closed_at = @now' : 'closed_at = NULL');
        }
        if (patch.locale !== undefined) (sets.push('locale = @locale'), (params.locale = patch.locale));
        if (patch.consecutiveFallbacks !== undefined) (sets.push('consecutive_fallbacks = @fb'), (params.fb = patch.consecutiveFallbacks));
        if (patch.topicGroup !== undefined) (sets.push('topic_group = coalesce(topic_group, @topicGroup)'), (params.topicGroup = patch.topicGroup));
        const res = updateStatement(sets.join(', ')).run(params);
        if (res.changes === 0) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [id]);
        return mustGetConv(id);
      });
    },
    async listIdleConversations(before, limit) {
      return (q.idle.all(before, Math.max(0, Math.min(limit, 1000))) as ConversationRow[]).map(toConversation);
    },
    closeIdleConversation(id, idleSince) {
      return write(() => {
        const row = q.closeIdle.get({ id, idleSince, now: now() }) as ConversationRow | undefined;
        return row ? toConversation({ ...row, holder_id: null, holder_name: null }) : null;
      });
    },
    async findOpenConversation(channel, customerId) {
      const row = q.findOpen.get(channel, customerId) as ConversationRow | undefined;
      return row ? toConversation(row) : null;
    },
    async countOpenConversations() {
      const out = { bot: 0, queued: 0, agent: 0 };
      for (const r of q.countOpen.all() as { state: keyof typeof out; n: number }[]) out[r.state] = r.n;
      return out;
    },
    appendMessage(input) {
      return write(() => append(input));
    },
    appendTurn(input) {
      return write(() => turn(input));
    },
    async getMessage(id) {
      const row = q.getMsg.get(id) as MessageRow | undefined;
      return row ? toMessage(row) : null;
    },
    async findMessageByClientId(conversationId, clientMessageId) {
      const row = q.byClientId.get(conversationId, clientMessageId) as MessageRow | undefined;
      return row ? toMessage(row) : null;
    },
    async findReply(conversationId, customerMessageId) {
      const row = q.reply.get({ conversationId, messageId: customerMessageId }) as MessageRow | undefined;
      return row ? toMessage(row) : null;
    },
    async listMessages(conversationId, options = {}) {
      return (q.list.all(conversationId, options.afterSeq ?? 0, Math.min(options.limit ?? 500, 1000)) as MessageRow[]).map(toMessage);
    },
    rateConversation(id, stars, comment) {
      return write(() => {
        const at = now();
        const res = q.rate.run(stars, comment, at, at, id);
        if (res.changes === 0) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [id]);
        return mustGetConv(id);
      });
    },
    setFeedback(messageId, feedback) {
      return write(() => {
        const res = q.feedback.run(feedback, messageId);
        if (res.changes === 0) throw new KefuError('KEFU_MESSAGE_NOT_FOUND', [messageId]);
        return toMessage(q.getMsg.get(messageId) as MessageRow);
      });
    },
    async close() {
      if (!db.open) return;
      commitBatch(); // what was written this turn is kept
      db.close();
    },
  };
}
