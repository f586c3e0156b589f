import pg from 'pg';

/**
 * The PostgreSQL the tests use: the machine's own (127.0.0.1:5432, database test, trust auth), or KEFU_TEST_POSTGRES_URL.
 * Each test store gets a schema of its own, dropped when the file's tests end.
 */
export const POSTGRES_TEST_URL = process.env.KEFU_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const made: string[] = [];
let n = 0;

/** A fresh schema name for one test store. */
export function testSchema(): string {
  const name = `kefu_test_${process.pid}_${Date.now().toString(36)}_${++n}`;
  made.push(name);
  return name;
}

/** Drops every schema testSchema() named in this process. */
export async function dropTestSchemas(): Promise<void> {
  const db = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await db.connect();
  try {
    for (const s of made.splice(0)) await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await db.end();
  }
}
