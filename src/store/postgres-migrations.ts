/**
 * Versioned schema changes for PostgreSQL, applied in order at start under an advisory lock (several instances may
 * start at once); a migration is never edited once released, only added. Version 1 is the schema the SQLite
 * migrations 1–5 arrived at, in PostgreSQL's own types: times are timestamptz, JSON is json or jsonb, flags are boolean.
 * Ids stay text: a malformed id from a request must read as "not found", not fail as an invalid uuid.
 */
export const POSTGRES_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'conversations, messages, handoff queue, agents, sessions, notes, customer profiles',
    sql: `
      CREATE TABLE conversations (
        id text PRIMARY KEY,
        channel text NOT NULL,
        customer_id text NOT NULL,
        state text NOT NULL CHECK (state IN ('bot','queued','agent','closed')),
        locale text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        closed_at timestamptz,
        consecutive_fallbacks integer NOT NULL DEFAULT 0,
        last_seq integer NOT NULL DEFAULT 0,
        rating_stars integer CHECK (rating_stars BETWEEN 1 AND 5),
        rating_comment text,
        rated_at timestamptz
      );
      CREATE INDEX conversations_customer_open ON conversations (channel, customer_id) WHERE state <> 'closed';
      CREATE INDEX conversations_state_updated ON conversations (state, updated_at);

      CREATE TABLE agents (
        id text PRIMARY KEY,
        username text NOT NULL CONSTRAINT agents_username_unique UNIQUE,
        display_name text NOT NULL,
        role text NOT NULL CHECK (role IN ('agent','trainer','admin')),
        groups jsonb NOT NULL DEFAULT '[]',
        password_hash text NOT NULL,
        disabled boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        last_login_at timestamptz
      );

      CREATE TABLE messages (
        id text PRIMARY KEY,
        conversation_id text NOT NULL REFERENCES conversations(id),
        seq integer NOT NULL,
        author text NOT NULL CHECK (author IN ('customer','bot','agent','system')),
        text text NOT NULL,
        -- json, not jsonb: written on every bot turn and read back whole, never queried inside, and json only checks
        -- what jsonb would also take apart and rebuild.
        quick_replies json NOT NULL DEFAULT '[]',
        outcome json,
        client_message_id text,
        reply_to text,
        feedback text CHECK (feedback IN ('up','down')),
        agent_id text REFERENCES agents(id),
        agent_name text,
        created_at timestamptz NOT NULL,
        UNIQUE (conversation_id, seq)
      );
      CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_message_id) WHERE client_message_id IS NOT NULL;

      CREATE TABLE agent_sessions (
        token_hash text PRIMARY KEY,
        agent_id text NOT NULL REFERENCES agents(id),
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);
      CREATE INDEX agent_sessions_expiry ON agent_sessions (expires_at);

      CREATE TABLE handoffs (
        -- Insertion order: breaks ties in the queue's order (SQLite's rowid).
        ord bigint GENERATED ALWAYS AS IDENTITY,
        id text PRIMARY KEY,
        conversation_id text NOT NULL REFERENCES conversations(id),
        kind text NOT NULL CHECK (kind IN ('chat','callback')),
        trigger text NOT NULL CHECK (trigger IN ('router','button','pull','transfer','callback','release')),
        topic text,
        queue_group text NOT NULL,
        priority integer NOT NULL DEFAULT 0,
        target_agent_id text REFERENCES agents(id),
        status text NOT NULL CHECK (status IN ('queued','claimed','ended')),
        agent_id text REFERENCES agents(id),
        queued_at timestamptz NOT NULL,
        claimed_at timestamptz,
        first_reply_at timestamptz,
        ended_at timestamptz,
        end_reason text CHECK (end_reason IN ('closed','returned','transferred','customer_ended','released')),
        disposition text,
        ended_by text REFERENCES agents(id),
        callback_text text,
        callback_contact_time text,
        previous_id text REFERENCES handoffs(id)
      );
      -- At most one open episode per conversation: the database itself refuses a second claim or queue entry.
      CREATE UNIQUE INDEX handoffs_open ON handoffs (conversation_id) WHERE status IN ('queued','claimed');
      CREATE INDEX handoffs_queue ON handoffs (status, queue_group, priority, queued_at);
      CREATE INDEX handoffs_agent ON handoffs (agent_id, status);
      CREATE INDEX handoffs_conversation ON handoffs (conversation_id, queued_at);
      CREATE INDEX handoffs_stats ON handoffs (queue_group, claimed_at) WHERE claimed_at IS NOT NULL;

      CREATE TABLE conversation_notes (
        ord bigint GENERATED ALWAYS AS IDENTITY,
        id text PRIMARY KEY,
        conversation_id text NOT NULL REFERENCES conversations(id),
        agent_id text NOT NULL REFERENCES agents(id),
        text text NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX conversation_notes_conversation ON conversation_notes (conversation_id, created_at);

      CREATE TABLE customer_profiles (
        channel text NOT NULL,
        customer_id text NOT NULL,
        verified boolean NOT NULL DEFAULT false,
        verified_at timestamptz,
        display_name text,
        data jsonb NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (channel, customer_id)
      );
    `,
  },
  {
    version: 2,
    name: 'whether the bank vouched for a conversation\'s customer id (a signed identity token)',
    sql: `ALTER TABLE conversations ADD COLUMN customer_verified boolean NOT NULL DEFAULT false;`,
  },
  {
    version: 3,
    name: 'the group a conversation\'s answers place it in, kept with it',
    // As SQLite's migration 7: NULL for conversations from before (not recorded); new ones start in 'default'.
    sql: `ALTER TABLE conversations ADD COLUMN topic_group text;`,
  },
];
