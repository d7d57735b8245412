import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type { Dialect } from 'kysely';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations';
import { withStatementCache } from './statement-cache';
import type { Database } from './schema';

export type Db = Kysely<Database>;
export type { Database } from './schema';
export type { DialectName } from './dialect';
export { dialectOf, isUniqueViolation } from './dialect';

/** Where the data lives: an SQLite file (embedded, the default) or a PostgreSQL database. */
export type DatabaseLocation =
  | { kind: 'sqlite'; file: string }
  | {
      kind: 'postgres';
      /** `postgres://user:password@host:port/database` (never logged whole: see {@link describeLocation}). */
      url: string;
      /** Connections this process keeps at most. @default 10 */
      poolSize?: number;
    };

/** The location for logs: the SQLite file, or the PostgreSQL URL without its password. */
export function describeLocation(location: DatabaseLocation): string {
  if (location.kind === 'sqlite') return `sqlite:${location.file}`;
  try {
    const u = new URL(location.url);
    if (u.password) u.password = '***';
    return `postgres:${u.toString()}`;
  } catch {
    return 'postgres:(unparsable URL)';
  }
}

/**
 * Opens the database and brings its schema up to date: an SQLite file path (or ':memory:'), or a
 * {@link DatabaseLocation}.
 */
export async function openDatabase(location: string | DatabaseLocation): Promise<Db> {
  const where: DatabaseLocation =
    typeof location === 'string' ? { kind: 'sqlite', file: location } : location;
  return where.kind === 'postgres' ? openPostgres(where.url, where.poolSize ?? 10) : openSqlite(where.file);
}

/**
 * The SQLite file (its folder created). The API and the worker open the same file; WAL mode lets
 * one write while the other reads.
 */
async function openSqlite(file: string): Promise<Db> {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // Two processes share the file: wait for the other's write lock rather than failing at once.
  sqlite.pragma('busy_timeout = 5000');
  await switchToWal(sqlite);
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({
    dialect: immediateTransactions(new SqliteDialect({ database: withStatementCache(sqlite) })),
  });
  await migrateSqlite(db, sqlite);
  return db;
}

// pg reads bigint (count(*), sums of integers) and numeric as strings, to keep precision past
// 2^53; our counts never get there, and SQLite gives numbers: read both as numbers.
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): ((value: string) => unknown) =>
    oid === INT8_OID || oid === NUMERIC_OID
      ? Number
      : (pg.types.getTypeParser(oid, format) as (
          value: string,
        ) => unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

/** A PostgreSQL database through a pool of `poolSize` connections. */
async function openPostgres(url: string, poolSize: number): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types: pgTypes });
  // An idle connection the server dropped must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Nor one checked out between two queries (a transaction, a held connection) when the server
  // stops: pg emits its error on the client, which has no other listener then. The query that
  // uses it next fails (a 503 in the API), and the pool drops it on release.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migratePostgres(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

/** Any constant shared by every hookflow process: the key of the migration's advisory lock. */
const MIGRATION_LOCK_KEY = 0x686f6f6b; // "hook"

/**
 * Several API and worker processes may start together: a session advisory lock makes the others
 * wait while the first migrates (Kysely's own lock comes too late to cover creating its tables),
 * then they find nothing to do.
 */
async function migratePostgres(db: Db): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
    try {
      await runMigrations(conn);
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
    }
  });
}

async function runMigrations(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed`, { cause: error });
  }
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
async function migrateSqlite(db: Db, sqlite: SqliteDatabase.Database): Promise<void> {
  sqlite.exec('BEGIN IMMEDIATE');
  try {
    await runMigrations(db);
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
