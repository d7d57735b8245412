import type { Expression, QueryExecutorProvider, RawBuilder } from 'kysely';
import { PostgresAdapter, sql } from 'kysely';

/** The two databases hookflow runs on: SQLite embedded (the default), PostgreSQL to scale out. */
export type DialectName = 'sqlite' | 'postgres';

/** Which database a Kysely instance (or a transaction of one) talks to. */
export function dialectOf(db: QueryExecutorProvider): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * True when `err` is a unique-key violation: SQLite's `SQLITE_CONSTRAINT_UNIQUE` /
 * `SQLITE_CONSTRAINT_PRIMARYKEY`, PostgreSQL's SQLSTATE 23505. The one place that knows both.
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * The JSON value at `keys` inside a text column holding JSON, as the driver reads it (a string,
 * number, boolean, or JSON text for objects on SQLite), NULL when missing or JSON null. SQLite's
 * `json_extract` and PostgreSQL's `#>` on the column cast to jsonb; each key is one path step
 * whatever characters it holds.
 */
export function jsonValue(
  db: QueryExecutorProvider,
  column: string,
  keys: readonly string[],
): RawBuilder<unknown> {
  if (dialectOf(db) === 'postgres') {
    return sql<unknown>`nullif(${sql.ref(column)}::jsonb #> ${[...keys]}::text[], 'null'::jsonb)`;
  }
  const path = `$${keys.map((k) => `."${k.replace(/["\\]/g, (c) => `\\${c}`)}"`).join('')}`;
  return sql<unknown>`json_extract(${sql.ref(column)}, ${path})`;
}

/**
 * `expr LIKE pattern` that ignores ASCII case on both databases (SQLite's LIKE does, PostgreSQL's
 * does not: ILIKE there). The pattern carries its own ESCAPE clause when it needs one.
 */
export function likeAnyCase(
  db: QueryExecutorProvider,
  expr: Expression<unknown>,
  pattern: Expression<unknown>,
): RawBuilder<boolean> {
  return dialectOf(db) === 'postgres'
    ? sql<boolean>`${expr} ilike ${pattern}`
    : sql<boolean>`${expr} like ${pattern}`;
}

/**
 * Inside a transaction: waits until no other transaction holds `key`, then holds it until this one
 * ends. SQLite needs nothing (hookflow's transactions begin IMMEDIATE: one writer at a time); on
 * PostgreSQL (read committed) it serialises a read-then-write that SQLite serialised, such as
 * "is there another owner?" before removing one, or merging into a profile read in the same
 * transaction.
 */
export async function lockForTransaction(trx: QueryExecutorProvider, key: string): Promise<void> {
  if (dialectOf(trx) !== 'postgres') return;
  await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx);
}
