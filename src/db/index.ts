import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type { Dialect } from 'kysely';
import { CompiledQuery, Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { migrationProvider } from './migrations';
import type { Database } from './schema';

export type Db = Kysely<Database>;
export type { Database } from './schema';

/**
 * Opens the SQLite database (creating its folder) and brings its schema up to date. The API and
 * the worker open the same file; WAL mode lets one write while the other reads.
 */
export async function openDatabase(file: string): Promise<Db> {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // Two processes share the file: wait for the other's write lock rather than failing at once.
  sqlite.pragma('busy_timeout = 5000');
  await switchToWal(sqlite);
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({
    dialect: immediateTransactions(new SqliteDialect({ database: sqlite })),
  });
  await migrate(db, sqlite);
  return db;
}

/**
 * Switching the journal mode needs the file to itself and SQLite does not wait on the busy timeout
 * for it: when the API and the worker open a new file together, one of them gets "database is
 * locked" at once. Retry for as long as the busy timeout would have waited.
 */
async function switchToWal(sqlite: SqliteDatabase.Database): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      sqlite.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      const busy = (err as { code?: string }).code?.startsWith('SQLITE_BUSY') === true;
      if (!busy || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * Transactions begin IMMEDIATE (taking the write lock at once, waiting up to busy_timeout for it).
 * A deferred transaction that reads and then writes cannot wait: when the other process wrote in
 * between, SQLite answers SQLITE_BUSY(_SNAPSHOT) at once, whatever the busy timeout.
 */
function immediateTransactions(base: SqliteDialect): Dialect {
  return {
    createAdapter: () => base.createAdapter(),
    createIntrospector: (db) => base.createIntrospector(db),
    createQueryCompiler: () => base.createQueryCompiler(),
    createDriver: () => {
      const driver = base.createDriver();
      driver.beginTransaction = async (connection) => {
        await connection.executeQuery(CompiledQuery.raw('begin immediate'));
      };
      return driver;
    },
  };
}

/**
 * Kysely takes no lock on SQLite, and the API and the worker may start together: an immediate
 * transaction around the whole migration makes the second process wait, then find nothing to do.
 */
async function migrate(db: Db, sqlite: SqliteDatabase.Database): Promise<void> {
  sqlite.exec('BEGIN IMMEDIATE');
  try {
    const migrator = new Migrator({ db, provider: migrationProvider });
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      throw new Error(`database migration ${failed?.migrationName ?? ''} failed`, { cause: error });
    }
    sqlite.exec('COMMIT');
  } catch (err) {
    if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
    throw err;
  }
}

/** Cheap liveness probe for /health. */
export async function pingDatabase(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
