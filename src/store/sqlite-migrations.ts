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
];
