import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely';
import { Lru } from '../lru';

/** Distinct SQL texts kept prepared; hookflow issues a few hundred (an `in (…)` list of each length is one). */
const STATEMENTS = 500;

/**
 * The database as Kysely's SQLite driver sees it, preparing each distinct SQL text once: Kysely
 * prepares every query anew, and preparing cost more than running the short statements of an
 * event's transaction. A statement still being iterated (a streamed query) is busy and cannot run
 * a second time meanwhile, so that caller gets a fresh one. SQLite re-prepares a cached statement
 * by itself after a schema change.
 */
export function withStatementCache(sqlite: SqliteDatabase.Database): KyselySqliteDatabase {
  const cache = new Lru<string, SqliteDatabase.Statement>(STATEMENTS);
  return {
    close: () => {
      sqlite.close();
    },
    prepare: (sql: string) => {
      const cached = cache.get(sql);
      if (cached && !cached.busy) return cached;
      const stmt = sqlite.prepare(sql);
      if (!cached) cache.set(sql, stmt);
      return stmt;
    },
  };
}
