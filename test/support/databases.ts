// Unit suites of code that touches SQL run on both databases: `describe.each(TEST_DATABASES)`.
import pg from 'pg';
import type { Db, DialectName } from '../../src/db';
import { openDatabase } from '../../src/db';

export const TEST_DATABASES: readonly DialectName[] = ['sqlite', 'postgres'];

let created = 0;

/** The throwaway cluster of the jest run (test/support/postgres-setup.ts). */
export function testPostgresUrl(database = 'postgres'): string {
  const url = process.env.HOOKFLOW_TEST_PG_URL;
  if (!url) throw new Error('HOOKFLOW_TEST_PG_URL is unset: the jest globalSetup starts PostgreSQL');
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates a fresh, empty database in the test cluster; returns its URL. */
export async function createTestPostgresDatabase(label: string): Promise<string> {
  const name =
    `hookflow_${label.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_${process.pid}_${++created}`.slice(0, 63);
  const admin = new pg.Client({ connectionString: testPostgresUrl() });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return testPostgresUrl(name);
}

/**
 * A fresh database of the kind asked, schema migrated: SQLite at `sqliteFile` (default in memory)
 * or a new PostgreSQL database. Close it with `destroy()`.
 */
export async function openTestDatabase(
  kind: DialectName,
  label: string,
  sqliteFile = ':memory:',
): Promise<Db> {
  if (kind === 'postgres') {
    return openDatabase({ kind: 'postgres', url: await createTestPostgresDatabase(label), poolSize: 5 });
  }
  return openDatabase(sqliteFile);
}
