import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../../src/db';
import { migrationProvider } from '../../src/db/migrations';
import type { Database } from '../../src/db/schema';
import { createTestPostgresDatabase, TEST_DATABASES } from '../support/databases';

/** A bare Kysely (no migrations run) on a fresh database of the kind asked. */
async function bare(kind: (typeof TEST_DATABASES)[number]): Promise<Kysely<Database>> {
  if (kind === 'sqlite') {
    return new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }) });
  }
  const url = await createTestPostgresDatabase('migrations');
  // Counts read as numbers, as openDatabase reads them.
  pg.types.setTypeParser(20, Number);
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
  });
}

test.each(TEST_DATABASES)(
  'on %s, upgrading to the analytics schema counts deliveries recorded before it',
  async (kind) => {
    const db = await bare(kind);
    const migrator = new Migrator({ db, provider: migrationProvider });
    expect((await migrator.migrateTo('0001_initial')).error).toBeUndefined();
    const row = {
      run_id: 'run_1',
      flow_id: 'flw_1',
      flow_version: 1,
      step_id: 's',
      profile_id: 'prf_1',
      first_attempt_at: null,
      last_attempt_at: null,
      next_attempt_at: null,
      reason: 'x',
      created_at: '2026-11-29T10:15:00.000Z',
      updated_at: '2026-11-29T10:15:00.000Z',
    };
    // Before 0002 the table has none of its columns: insert through a narrower shape.
    const old = db as unknown as Kysely<{ deliveries: Record<string, unknown> }>;
    await old
      .insertInto('deliveries')
      .values([
        { ...row, id: 'd1', status: 'delivered', attempts: 1, last_http_status: 200, latency_ms: 42 },
        { ...row, id: 'd2', status: 'failed', attempts: 3, last_http_status: 503, latency_ms: null },
      ])
      .execute();
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    const rollups = await db
      .selectFrom('delivery_rollups')
      .selectAll()
      .orderBy(['grain', 'status'])
      .execute();
    expect(rollups).toEqual([
      {
        grain: 'd',
        period: '2026-11-29',
        flow_id: 'flw_1',
        step_id: 's',
        status: 'delivered',
        attempts: 1,
        count: 1,
      },
      {
        grain: 'd',
        period: '2026-11-29',
        flow_id: 'flw_1',
        step_id: 's',
        status: 'failed',
        attempts: 3,
        count: 1,
      },
      {
        grain: 'h',
        period: '2026-11-29T10',
        flow_id: 'flw_1',
        step_id: 's',
        status: 'delivered',
        attempts: 1,
        count: 1,
      },
      {
        grain: 'h',
        period: '2026-11-29T10',
        flow_id: 'flw_1',
        step_id: 's',
        status: 'failed',
        attempts: 3,
        count: 1,
      },
    ]);
    const latency = await db
      .selectFrom('latency_rollups')
      .select(['grain', 'count'])
      .orderBy('grain')
      .execute();
    expect(latency).toEqual([
      { grain: 'd', count: 1 },
      { grain: 'h', count: 1 },
    ]);
    await db.destroy();
  },
);

/** The last migration the recorded SQLite schema covers; later ones add to it and are checked on their own. */
const RECORDED_UP_TO = '0010_catalog';

test('on SQLite the migrations create exactly the schema they always did (recorded before PostgreSQL came)', async () => {
  const sqlite = new SqliteDatabase(':memory:');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const migrated = await new Migrator({ db, provider: migrationProvider }).migrateTo(RECORDED_UP_TO);
  expect(migrated.error).toBeUndefined();
  const schema = sqlite
    .prepare(
      "select type, name, tbl_name, sql from sqlite_master where name not like 'kysely_%' order by type, name",
    )
    .all();
  expect(schema).toEqual(
    JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/sqlite-schema.json'), 'utf8')),
  );
  await db.destroy();
});

test('PostgreSQL gets the same tables and columns as SQLite', async () => {
  const columns = async (db: Kysely<Database>, kind: string) => {
    expect((await new Migrator({ db, provider: migrationProvider }).migrateToLatest()).error).toBeUndefined();
    const rows =
      kind === 'sqlite'
        ? await sql<{
            t: string;
            c: string;
          }>`select m.name as t, p.name as c from sqlite_master m, pragma_table_info(m.name) p
            where m.type = 'table' and m.name not like 'kysely_%' and m.name not like 'sqlite_%'`.execute(db)
        : await sql<{
            t: string;
            c: string;
          }>`select table_name as t, column_name as c from information_schema.columns
            where table_schema = 'public' and table_name not like 'kysely_%'`.execute(db);
    await db.destroy();
    return rows.rows.map((r) => `${r.t}.${r.c}`).sort();
  };
  const onSqlite = await columns(await bare('sqlite'), 'sqlite');
  expect(onSqlite.length).toBeGreaterThan(100);
  expect(await columns(await bare('postgres'), 'postgres')).toEqual(onSqlite);
});

test('on PostgreSQL, processes starting together on a new database migrate it once', async () => {
  const url = await createTestPostgresDatabase('migrate_together');
  const dbs = await Promise.all([1, 2, 3, 4].map(() => openDatabase({ kind: 'postgres', url, poolSize: 2 })));
  const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
    dbs[0]!,
  );
  expect(applied.rows.map((r) => r.name)).toEqual(
    Object.keys(await migrationProvider.getMigrations()).sort(),
  );
  await Promise.all(dbs.map((db) => db.destroy()));
});
