import { storeOnThread, type Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { openPostgresStore } from './postgres-store.ts';
import { openSqliteStore } from './sqlite-store.ts';
import { openSqliteStoreOnThread } from './sqlite-threaded-store.ts';
import type { Store } from './store.ts';

/** Opens the store config.database names: PostgreSQL, or SQLite on a thread of its own or on this one. */
export async function openStore(config: Config, log: Logger): Promise<Store> {
  const db = config.database;
  // loadConfig refuses kind postgres without a url.
  if (db.kind === 'postgres') return openPostgresStore({ url: db.url!, schema: db.schema, poolSize: db.poolSize, log });
  return storeOnThread(config) ? openSqliteStoreOnThread(db.path, { log }) : openSqliteStore(db.path);
}
