import { storeOnThread, type Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { openSqliteStore } from './sqlite-store.ts';
import { openSqliteStoreOnThread } from './sqlite-threaded-store.ts';
import type { Store } from './store.ts';

/** Opens the store config.database names: PostgreSQL, or SQLite on a thread of its own or on this one. */
export async function openStore(config: Config, log: Logger): Promise<Store> {
  const db = config.database;
  // loadConfig refuses kind postgres without a url.
  // Loaded only when asked for: the embedded default never loads the PostgreSQL driver.
  if (db.kind === 'postgres') return (await import('./postgres-store.ts')).openPostgresStore({ url: db.url!, schema: db.schema, poolSize: db.poolSize, log });
  const sqlite = { synchronous: db.synchronous };
  return storeOnThread(config) ? openSqliteStoreOnThread(db.path, { log, ...sqlite }) : openSqliteStore(db.path, sqlite);
}
