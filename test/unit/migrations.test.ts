import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { migrationProvider } from '../../src/db/migrations';
import type { Database } from '../../src/db/schema';

test('upgrading to the analytics schema counts deliveries recorded before it', async () => {
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }),
  });
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
  const rollups = await db.selectFrom('delivery_rollups').selectAll().orderBy(['grain', 'status']).execute();
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
});

test('on SQLite the migrations create exactly the schema they always did (recorded before PostgreSQL came)', async () => {
  const sqlite = new SqliteDatabase(':memory:');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  expect((await new Migrator({ db, provider: migrationProvider }).migrateToLatest()).error).toBeUndefined();
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
