/** Versioned schema changes, applied in order at start; a migration is never edited once released, only added. */
export const SQLITE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'conversations and messages',
    sql: `
      CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('bot','queued','agent','closed')),
        locale TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        closed_at TEXT,
        consecutive_fallbacks INTEGER NOT NULL DEFAULT 0,
        last_seq INTEGER NOT NULL DEFAULT 0,
        rating_stars INTEGER CHECK (rating_stars BETWEEN 1 AND 5),
        rating_comment TEXT,
        rated_at TEXT
      );
      CREATE INDEX conversations_customer ON conversations (channel, customer_id, state, updated_at);
      CREATE INDEX conversations_state ON conversations (state);
      CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        seq INTEGER NOT NULL,
        author TEXT NOT NULL CHECK (author IN ('customer','bot','agent','system')),
        text TEXT NOT NULL,
        quick_replies TEXT NOT NULL DEFAULT '[]',
        outcome TEXT,
        client_message_id TEXT,
        reply_to TEXT,
        feedback TEXT CHECK (feedback IN ('up','down')),
        created_at TEXT NOT NULL,
        UNIQUE (conversation_id, seq)
      );
      CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_message_id) WHERE client_message_id IS NOT NULL;
      CREATE INDEX messages_reply_to ON messages (conversation_id, reply_to) WHERE reply_to IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'handoff queue, agents, sessions, notes, customer profiles',
    sql: `
      CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('agent','trainer','admin')),
        groups TEXT NOT NULL DEFAULT '[]',
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0,1)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_login_at TEXT
      );
      CREATE TABLE agent_sessions (
        token_hash TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL REFERENCES agents(id),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      );
      CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);
      CREATE INDEX agent_sessions_expiry ON agent_sessions (expires_at);
      CREATE TABLE handoffs (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        kind TEXT NOT NULL CHECK (kind IN ('chat','callback')),
        trigger TEXT NOT NULL CHECK (trigger IN ('router','button','pull','transfer','callback')),
        topic TEXT,
        queue_group TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        target_agent_id TEXT REFERENCES agents(id),
        status TEXT NOT NULL CHECK (status IN ('queued','claimed','ended')),
        agent_id TEXT REFERENCES agents(id),
        queued_at TEXT NOT NULL,
        claimed_at TEXT,
        first_reply_at TEXT,
        ended_at TEXT,
        end_reason TEXT CHECK (end_reason IN ('closed','returned','transferred','customer_ended')),
        disposition TEXT,
        ended_by TEXT REFERENCES agents(id),
        callback_text TEXT,
        callback_contact_time TEXT,
        previous_id TEXT REFERENCES handoffs(id)
      );
      -- At most one open episode per conversation: the database itself refuses a second claim or queue entry.
      CREATE UNIQUE INDEX handoffs_open ON handoffs (conversation_id) WHERE status IN ('queued','claimed');
      CREATE INDEX handoffs_queue ON handoffs (status, queue_group, priority, queued_at);
      CREATE INDEX handoffs_agent ON handoffs (agent_id, status);
      CREATE INDEX handoffs_conversation ON handoffs (conversation_id, queued_at);
      CREATE INDEX handoffs_stats ON handoffs (queue_group, claimed_at) WHERE claimed_at IS NOT NULL;
      CREATE TABLE conversation_notes (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        agent_id TEXT NOT NULL REFERENCES agents(id),
        text TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX conversation_notes_conversation ON conversation_notes (conversation_id, created_at);
      CREATE TABLE customer_profiles (
        channel TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0,1)),
        verified_at TEXT,
        display_name TEXT,
        data TEXT NOT NULL DEFAULT '{}',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (channel, customer_id)
      );
      CREATE INDEX conversations_state_updated ON conversations (state, updated_at);
      -- Conversations already waiting for a person keep their place: no agent existed before, so 'agent' ones wait too.
      UPDATE conversations SET state = 'queued' WHERE state = 'agent';
      INSERT INTO handoffs (id, conversation_id, kind, trigger, topic, queue_group, priority, status, queued_at)
        SELECT lower(hex(randomblob(16))), id, 'chat', 'router', NULL, 'default', 0, 'queued', updated_at FROM conversations WHERE state = 'queued';
    `,
  },
  {
    version: 3,
    name: 'agent messages say who wrote them',
    sql: `
      -- The agent who wrote an agent message, and their display name as the customer was shown it.
      ALTER TABLE messages ADD COLUMN agent_id TEXT REFERENCES agents(id);
      ALTER TABLE messages ADD COLUMN agent_name TEXT;
      -- Earlier agent messages belong to the episode held when they were written: the latest claim at or before them.
      UPDATE messages SET agent_id = (
        SELECT h.agent_id FROM handoffs h
        WHERE h.conversation_id = messages.conversation_id AND h.agent_id IS NOT NULL AND h.claimed_at IS NOT NULL
          AND h.claimed_at <= messages.created_at AND (h.ended_at IS NULL OR messages.created_at <= h.ended_at)
        ORDER BY h.claimed_at DESC, h.rowid DESC LIMIT 1)
      WHERE author = 'agent';
      UPDATE messages SET agent_name = (SELECT display_name FROM agents WHERE agents.id = messages.agent_id) WHERE agent_id IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'conversations go back to the queue when their agent leaves',
    // SQLite cannot widen a CHECK in place: the table is rebuilt with trigger 'release' and end reason 'released'
    // (the episode whose agent left, and the one that puts the customer back in the queue), rows and indexes as they were.
    sql: `
      CREATE TABLE handoffs_v4 (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        kind TEXT NOT NULL CHECK (kind IN ('chat','callback')),
        trigger TEXT NOT NULL CHECK (trigger IN ('router','button','pull','transfer','callback','release')),
        topic TEXT,
        queue_group TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        target_agent_id TEXT REFERENCES agents(id),
        status TEXT NOT NULL CHECK (status IN ('queued','claimed','ended')),
        agent_id TEXT REFERENCES agents(id),
        queued_at TEXT NOT NULL,
        claimed_at TEXT,
        first_reply_at TEXT,
        ended_at TEXT,
        end_reason TEXT CHECK (end_reason IN ('closed','returned','transferred','customer_ended','released')),
        disposition TEXT,
        ended_by TEXT REFERENCES agents(id),
        callback_text TEXT,
        callback_contact_time TEXT,
        previous_id TEXT REFERENCES handoffs_v4(id)
      );
      -- rowid too: it breaks ties in the queue's order.
      INSERT INTO handoffs_v4 (rowid, id, conversation_id, kind, trigger, topic, queue_group, priority, target_agent_id, status, agent_id,
          queued_at, claimed_at, first_reply_at, ended_at, end_reason, disposition, ended_by, callback_text, callback_contact_time, previous_id)
        SELECT rowid, id, conversation_id, kind, trigger, topic, queue_group, priority, target_agent_id, status, agent_id,
          queued_at, claimed_at, first_reply_at, ended_at, end_reason, disposition, ended_by, callback_text, callback_contact_time, previous_id
        FROM handoffs;
      DROP TABLE handoffs;
      ALTER TABLE handoffs_v4 RENAME TO handoffs;
      CREATE UNIQUE INDEX handoffs_open ON handoffs (conversation_id) WHERE status IN ('queued','claimed');
      CREATE INDEX handoffs_queue ON handoffs (status, queue_group, priority, queued_at);
      CREATE INDEX handoffs_agent ON handoffs (agent_id, status);
      CREATE INDEX handoffs_conversation ON handoffs (conversation_id, queued_at);
      CREATE INDEX handoffs_stats ON handoffs (queue_group, claimed_at) WHERE claimed_at IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'fewer index writes per turn: customer lookup on open conversations without updated_at, no reply_to index',
    // updated_at moves with every message, and each move rewrote an entry of the customer index: a page written to
    // the WAL per turn for an index that only finds a customer's open conversation (few rows: sorting them is free).
    // conversations_state is the first column of conversations_state_updated, which serves every query it did
    // (counting by state, for /metrics, reads that wider index instead: still one pass over an index, not the table).
    sql: `
      DROP INDEX conversations_customer;
      CREATE INDEX conversations_customer_open ON conversations (channel, customer_id) WHERE state != 'closed';
      DROP INDEX conversations_state;
      -- A reply is found from its customer message's seq onwards on (conversation_id, seq), usually the next row: an
      -- index of its own cost every bot reply a write to a random page of it, for a lookup made only on retries.
      DROP INDEX messages_reply_to;
    `,
  },
  {
    version: 6,
    name: 'whether the bank vouched for a conversation\'s customer id (a signed identity token)',
    sql: `ALTER TABLE conversations ADD COLUMN customer_verified INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    version: 7,
    name: 'the group a conversation\'s answers place it in, kept with it',
    // Which group's agents see a bot conversation on their live list was worked out by each process from the answers
    // it had pushed: after a restart, or on another instance, a card conversation's next fallback went to the default
    // group's agents. Kept here, written with each answer, every instance reads the same group. Conversations from
    // before have NULL (not recorded): which topics have a group is the pack's to say, not SQL's, so the app works it
    // out from their messages when it needs it. New conversations start in 'default' (the store sets it).
    sql: `ALTER TABLE conversations ADD COLUMN topic_group TEXT;`,
  },
];
