import type { ColumnDataType, CreateTableBuilder, Kysely, Migration, MigrationProvider } from 'kysely';
import { PostgresAdapter, sql } from 'kysely';

/**
 * Migrations live in code (not files on disk) so the compiled worker and API carry them. Keep the
 * SQL portable: plain types, no SQLite-only features, so PostgreSQL can run the same list.
 */
/**
 * The latency bucket as it was when `0002` ran, copied here on purpose: a migration is frozen code
 * and must import nothing that can change (the live one is `latencyBucket` in `./buckets`).
 */
function latencyBucket0002(ms: number): number {
  return Math.max(0, Math.floor(Math.log(Math.max(ms, 0) + 1) / Math.log(1.1)));
}

/**
 * Migrations say what SQLite got, word for word (its schema must never change under a database
 * already in use); where PostgreSQL needs other words, these choose them. Frozen like the rest.
 */
const onPostgres = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/** An auto-numbered `id` primary key: `integer … autoincrement` on SQLite, `serial` on PostgreSQL. */
function autoId(db: Kysely<unknown>) {
  return <T extends string, C extends string>(
    t: CreateTableBuilder<T, C>,
  ): CreateTableBuilder<T, C | 'id'> =>
    onPostgres(db)
      ? t.addColumn('id', 'serial', (c) => c.primaryKey())
      : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

/** Prices: SQLite's `real` is 8 bytes; PostgreSQL's is 4 (6 digits), so `double precision` there. */
const realType = (db: Kysely<unknown>): ColumnDataType => (onPostgres(db) ? 'double precision' : 'real');

const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('flows')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('trigger_type', 'text', (c) => c.notNull())
        .addColumn('trigger_metric', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('flows_trigger_idx')
        .on('flows')
        .columns(['status', 'trigger_type', 'trigger_metric'])
        .execute();

      await db.schema
        .createTable('flow_versions')
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('flow_versions_pk', ['flow_id', 'version'])
        .execute();

      await db.schema
        .createTable('profiles')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text')
        .addColumn('phone_number', 'text')
        .addColumn('external_id', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('metric', 'text', (c) => c.notNull())
        .addColumn('profile_id', 'text', (c) => c.notNull())
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('properties', 'text', (c) => c.notNull())
        .addColumn('unique_id', 'text')
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('events_metric_unique_idx')
        .on('events')
        .columns(['metric', 'unique_id'])
        .unique()
        .execute();
      await db.schema
        .createIndex('events_metric_time_idx')
        .on('events')
        .columns(['metric', 'received_at'])
        .execute();

      await db.schema
        .createTable('runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('flow_version', 'integer', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('runs_event_idx').on('runs').column('event_id').execute();
      await db.schema.createIndex('runs_flow_idx').on('runs').columns(['flow_id', 'created_at']).execute();

      await db.schema
        .createTable('deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('flow_version', 'integer', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('profile_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('first_attempt_at', 'text')
        .addColumn('last_attempt_at', 'text')
        .addColumn('next_attempt_at', 'text')
        .addColumn('last_http_status', 'integer')
        .addColumn('reason', 'text')
        .addColumn('latency_ms', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('deliveries_run_idx')
        .on('deliveries')
        .columns(['run_id', 'step_id'])
        .execute();
      await db.schema
        .createIndex('deliveries_status_idx')
        .on('deliveries')
        .columns(['status', 'created_at'])
        .execute();
      await db.schema
        .createIndex('deliveries_flow_idx')
        .on('deliveries')
        .columns(['flow_id', 'step_id', 'created_at'])
        .execute();

      await db.schema
        .createTable('delivery_attempts')
        .$call(autoId(db))
        .addColumn('delivery_id', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('manual', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('http_status', 'integer')
        .addColumn('error_class', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('response_excerpt', 'text')
        .execute();
      await db.schema
        .createIndex('delivery_attempts_unique_idx')
        .on('delivery_attempts')
        .columns(['delivery_id', 'manual', 'attempt'])
        .unique()
        .execute();
    },
  },
  '0002_analytics': {
    async up(db: Kysely<unknown>) {
      // What a resend needs (the original context) and the links between an original and its resends.
      await db.schema.alterTable('deliveries').addColumn('context', 'text').execute();
      await db.schema
        .alterTable('deliveries')
        .addColumn('manual', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('deliveries').addColumn('resend_of', 'text').execute();
      await db.schema.alterTable('deliveries').addColumn('resent_to', 'text').execute();
      await db.schema.alterTable('deliveries').addColumn('resent_at', 'text').execute();
      // The queue listings: newest first by status, overall or for one flow step; id breaks ties.
      await db.schema.dropIndex('deliveries_status_idx').execute();
      await db.schema.dropIndex('deliveries_flow_idx').execute();
      await db.schema
        .createIndex('deliveries_queue_idx')
        .on('deliveries')
        .columns(['status', 'created_at', 'id'])
        .execute();
      await db.schema
        .createIndex('deliveries_step_queue_idx')
        .on('deliveries')
        .columns(['flow_id', 'step_id', 'status', 'created_at', 'id'])
        .execute();
      await db.schema
        .createIndex('deliveries_created_idx')
        .on('deliveries')
        .columns(['created_at', 'id'])
        .execute();
      await db.schema
        .createIndex('deliveries_flow_created_idx')
        .on('deliveries')
        .columns(['flow_id', 'step_id', 'created_at', 'id'])
        .execute();
      await db.schema
        .createIndex('delivery_attempts_delivery_idx')
        .on('delivery_attempts')
        .columns(['delivery_id', 'id'])
        .execute();
      await db.schema.createIndex('profiles_updated_idx').on('profiles').column('updated_at').execute();

      // Roll-ups by hour and by day (grain 'h' / 'd'), kept in step with every status change, so
      // stats read a few thousand rows whatever the number of deliveries.
      await db.schema
        .createTable('delivery_rollups')
        .addColumn('grain', 'text', (c) => c.notNull())
        .addColumn('period', 'text', (c) => c.notNull())
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('delivery_rollups_pk', [
          'grain',
          'period',
          'flow_id',
          'step_id',
          'status',
          'attempts',
        ])
        .execute();
      await db.schema
        .createIndex('delivery_rollups_step_idx')
        .on('delivery_rollups')
        .columns(['grain', 'flow_id', 'step_id', 'period'])
        .execute();
      await db.schema
        .createTable('latency_rollups')
        .addColumn('grain', 'text', (c) => c.notNull())
        .addColumn('period', 'text', (c) => c.notNull())
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('bucket', 'integer', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('latency_rollups_pk', ['grain', 'period', 'flow_id', 'step_id', 'bucket'])
        .execute();
      await db.schema
        .createIndex('latency_rollups_step_idx')
        .on('latency_rollups')
        .columns(['grain', 'flow_id', 'step_id', 'period'])
        .execute();
      // Deliveries recorded before the roll-ups existed are counted too.
      for (const [grain, len] of [
        ['h', 13],
        ['d', 10],
      ] as const) {
        await sql`insert into delivery_rollups (grain, period, flow_id, step_id, status, attempts, count)
          select ${grain}, substr(created_at, 1, ${len}), flow_id, step_id, status, attempts, count(*)
          from deliveries group by 2, 3, 4, 5, 6`.execute(db);
      }
      // And their latencies (bucketed here: SQLite has no portable logarithm).
      const delivered = await sql<{
        flow_id: string;
        step_id: string;
        created_at: string;
        latency_ms: number;
      }>`
        select flow_id, step_id, created_at, latency_ms from deliveries
        where status = 'delivered' and latency_ms is not null`.execute(db);
      const counts = new Map<string, number>();
      for (const r of delivered.rows) {
        for (const [grain, period] of [
          ['h', r.created_at.slice(0, 13)],
          ['d', r.created_at.slice(0, 10)],
        ]) {
          const key = JSON.stringify([grain, period, r.flow_id, r.step_id, latencyBucket0002(r.latency_ms)]);
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      for (const [key, count] of counts) {
        const [grain, period, flowId, stepId, bucket] = JSON.parse(key) as [
          string,
          string,
          string,
          string,
          number,
        ];
        await sql`insert into latency_rollups (grain, period, flow_id, step_id, bucket, count)
          values (${grain}, ${period}, ${flowId}, ${stepId}, ${bucket}, ${count})`.execute(db);
      }
    },
  },
  '0003_accounts': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('totp_secret', 'text')
        .addColumn('totp_pending', 'text')
        .addColumn('totp_last_step', 'integer', (c) => c.notNull().defaultTo(-1))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('recovery_codes')
        .$call(autoId(db))
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('code_hash', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .execute();
      await db.schema.createIndex('recovery_codes_user_idx').on('recovery_codes').column('user_id').execute();
      await db.schema
        .createTable('sessions')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('csrf', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema.createIndex('api_keys_user_idx').on('api_keys').column('user_id').execute();
      await db.schema
        .createTable('audit_log')
        .$call(autoId(db))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('api_key_id', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('flow_id', 'text')
        .addColumn('step_id', 'text')
        .addColumn('fields', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_at_idx').on('audit_log').columns(['at', 'id']).execute();
    },
  },
  '0004_audit_by_flow': {
    // The audit log is read newest first, for all flows or one.
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('audit_log_flow_idx').on('audit_log').columns(['flow_id', 'id']).execute();
    },
  },
  '0005_disabled_users': {
    // Owners remove people by disabling them: the row stays so the audit log still names them.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('disabled_at', 'text').execute();
    },
  },
  '0006_session_expiry_index': {
    // Expired sessions are deleted as new ones start.
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('sessions_expires_idx').on('sessions').column('expires_at').execute();
    },
  },
  '0007_profiles_lists_entries': {
    // Issue 11: lists and their members (with history), per-flow entries for re-entry, and runs that
    // no event started (list and segment entries): event_id becomes optional, the profile and the
    // template context are kept so a sweep can start a recorded run after a crash.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('flows').addColumn('trigger_ref', 'text').execute();
      await db.schema
        .createIndex('flows_trigger_ref_idx')
        .on('flows')
        .columns(['status', 'trigger_type', 'trigger_ref'])
        .execute();
      await db.schema.createIndex('profiles_email_idx').on('profiles').column('email').execute();
      await db.schema.createIndex('profiles_phone_idx').on('profiles').column('phone_number').execute();
      await db.schema.createIndex('profiles_external_idx').on('profiles').column('external_id').execute();

      await db.schema
        .createTable('lists')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('double_opt_in', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('list_members')
        .addColumn('list_id', 'text', (c) => c.notNull())
        .addColumn('profile_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('joined_at', 'text', (c) => c.notNull())
        .addColumn('confirmed_at', 'text')
        .addPrimaryKeyConstraint('list_members_pk', ['list_id', 'profile_id'])
        .execute();
      await db.schema
        .createIndex('list_members_page_idx')
        .on('list_members')
        .columns(['list_id', 'joined_at', 'profile_id'])
        .execute();
      await db.schema
        .createIndex('list_members_profile_idx')
        .on('list_members')
        .columns(['profile_id', 'list_id'])
        .execute();
      await db.schema
        .createTable('list_member_history')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('list_id', 'text', (c) => c.notNull())
        .addColumn('profile_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('by', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('list_member_history_idx')
        .on('list_member_history')
        .columns(['list_id', 'profile_id', 'at'])
        .execute();

      await db.schema
        .createTable('flow_entries')
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('profile_id', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('entered_at', 'text', (c) => c.notNull())
        // 'once' for flows that never re-enter (the unique key refuses a second entry), else the change id.
        .addColumn('entry_key', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('flow_entries_key_idx')
        .on('flow_entries')
        .columns(['flow_id', 'profile_id', 'entry_key'])
        .unique()
        .execute();
      await db.schema
        .createIndex('flow_entries_latest_idx')
        .on('flow_entries')
        .columns(['flow_id', 'profile_id', 'entered_at'])
        .execute();

      await db.schema
        .createTable('runs_0007')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('flow_version', 'integer', (c) => c.notNull())
        .addColumn('event_id', 'text')
        .addColumn('profile_id', 'text')
        .addColumn('context', 'text')
        .addColumn('started_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await sql`insert into runs_0007 (id, flow_id, flow_version, event_id, started_at, created_at)
        select id, flow_id, flow_version, event_id, started_at, created_at from runs`.execute(db);
      await db.schema.dropTable('runs').execute();
      await sql`alter table runs_0007 rename to runs`.execute(db);
      await db.schema.createIndex('runs_event_idx').on('runs').column('event_id').execute();
      await db.schema.createIndex('runs_flow_idx').on('runs').columns(['flow_id', 'created_at']).execute();
      await db.schema
        .createIndex('runs_unstarted_idx')
        .on('runs')
        .columns(['started_at', 'created_at'])
        .execute();
    },
  },
  '0008_segments': {
    // Segments (issue 11): the definition and its background recompute (state, cursor, progress),
    // the current members, and every stay in a segment (entered, exited, organically or not).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('segments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('recompute_status', 'text', (c) => c.notNull())
        .addColumn('recompute_cursor', 'text')
        .addColumn('recompute_processed', 'integer', (c) => c.notNull())
        .addColumn('recompute_total', 'integer', (c) => c.notNull())
        .addColumn('recompute_started_at', 'text')
        .addColumn('recompute_finished_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('segment_members')
        .addColumn('segment_id', 'text', (c) => c.notNull())
        .addColumn('profile_id', 'text', (c) => c.notNull())
        .addColumn('entered_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('segment_members_pk', ['segment_id', 'profile_id'])
        .execute();
      await db.schema
        .createIndex('segment_members_profile_idx')
        .on('segment_members')
        .columns(['profile_id', 'segment_id'])
        .execute();
      await db.schema
        .createTable('segment_membership_history')
        .$call(autoId(db))
        .addColumn('segment_id', 'text', (c) => c.notNull())
        .addColumn('profile_id', 'text', (c) => c.notNull())
        .addColumn('entered_at', 'text', (c) => c.notNull())
        .addColumn('exited_at', 'text')
        .addColumn('organic', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('segment_history_idx')
        .on('segment_membership_history')
        .columns(['segment_id', 'profile_id', 'id'])
        .execute();
      // Metric conditions count one profile's events of one metric, in a time window.
      await db.schema
        .createIndex('events_profile_metric_time_idx')
        .on('events')
        .columns(['profile_id', 'metric', 'time'])
        .execute();
    },
  },
  '0009_date_flows': {
    // Date-property flows (issue 12): how far each flow's sweep has looked, and the occurrence
    // each date run was started for (a run whose profile's date changed is skipped "date changed").
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('date_sweeps')
        .addColumn('flow_id', 'text', (c) => c.primaryKey())
        .addColumn('swept_to', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('date_runs')
        .addColumn('run_id', 'text', (c) => c.primaryKey())
        .addColumn('occurrence', 'text', (c) => c.notNull())
        .addColumn('send_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0010_catalog': {
    // The catalog (issue 12): items, every price an item had, each price decrease (a drop), and
    // the fan-out of a drop into each live price-drop flow (its cursor and progress).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('catalog_items')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('url', 'text')
        .addColumn('image_url', 'text')
        .addColumn('price', realType(db), (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('in_stock', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('catalog_price_history')
        .$call(autoId(db))
        .addColumn('item_id', 'text', (c) => c.notNull())
        .addColumn('price', realType(db), (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('changed_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('catalog_price_history_item_idx')
        .on('catalog_price_history')
        .columns(['item_id', 'id'])
        .execute();
      await db.schema
        .createTable('price_drops')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('item_id', 'text', (c) => c.notNull())
        .addColumn('previous_price', realType(db), (c) => c.notNull())
        .addColumn('price', realType(db), (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('price_drops_item_idx').on('price_drops').columns(['item_id']).execute();
      await db.schema
        .createTable('price_drop_fanouts')
        .addColumn('drop_id', 'text', (c) => c.notNull())
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('flow_version', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('cursor', 'text')
        .addColumn('candidates', 'integer', (c) => c.notNull())
        .addColumn('processed', 'integer', (c) => c.notNull())
        .addColumn('started', 'integer', (c) => c.notNull())
        .addColumn('workflow_started_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('price_drop_fanouts_pk', ['drop_id', 'flow_id'])
        .execute();
      await db.schema
        .createIndex('price_drop_fanouts_unstarted_idx')
        .on('price_drop_fanouts')
        .columns(['workflow_started_at', 'created_at'])
        .execute();
    },
  },
  '0011_flow_versions_saved_by': {
    // Who saved each flow version (the flow list's "last change by"): the user, and the API key
    // when one was used. Versions saved before this stay without one.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('flow_versions').addColumn('saved_by_user', 'text').execute();
      await db.schema.alterTable('flow_versions').addColumn('saved_by_key', 'text').execute();
    },
  },
  '0012_setup_tokens': {
    // The first-owner setup link, by the hash of its token: in the database, so that any API
    // process (make start-cluster runs two on one port) accepts a link any of them printed.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('setup_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0013_run_claims': {
    // Issue 15: the API answers before Temporal started the runs; a starter in every API process
    // claims them with a lease, so several processes share the outbox and a killed one's runs are
    // taken over once its lease lapses. The partial index keeps the scan for lapsed claims to the
    // queued runs only. The epoch literal is UNCLAIMED of ./schema, copied: a migration is frozen.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('runs').addColumn('claimed_by', 'text').execute();
      await db.schema
        .alterTable('runs')
        .addColumn('claim_expires_at', 'text', (c) => c.notNull().defaultTo('1970-01-01T00:00:00.000Z'))
        .execute();
      await sql`create index runs_claimable_idx on runs (claim_expires_at) where started_at is null`.execute(
        db,
      );
    },
  },
  '0014_flow_changes': {
    // Issue 15: API processes remember the live flows of a metric between events. Every flow save
    // or deletion bumps this one counter in its own transaction, so each process sees a change made
    // by any process at its next event (one primary-key read) instead of after a time bound.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('flow_changes')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('n', 'integer', (c) => c.notNull())
        .execute();
      await sql`insert into flow_changes (id, n) values (1, 0)`.execute(db);
    },
  },
  '0015_destinations': {
    // Issue 16: endpoint protection, shared by every worker process. A destination (scheme, host,
    // port) holds its circuit, the endpoint's Retry-After hold and a token bucket; each request in
    // flight holds a lease that lapses on its own, so a killed worker frees its slot. Times are ms
    // since the epoch (bigint), which the token and lease arithmetic reads directly.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('destinations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('origin', 'text', (c) => c.notNull().unique())
        .addColumn('circuit', 'text', (c) => c.notNull())
        .addColumn('opened_at', 'bigint')
        .addColumn('reason', 'text')
        .addColumn('reopen_at', 'bigint')
        .addColumn('probe_until', 'bigint')
        .addColumn('hold_until', 'bigint')
        .addColumn('tokens', realType(db), (c) => c.notNull())
        .addColumn('tokens_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('destination_leases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('destination_id', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('destination_leases_live_idx')
        .on('destination_leases')
        .columns(['destination_id', 'expires_at'])
        .execute();
    },
  },
  '0016_destination_outcomes': {
    // Issue 16: the breaker's window, one row per destination and minute (attempts, failures), so
    // any worker reads the last few minutes of every worker in one grouped read.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('destination_outcomes')
        .addColumn('destination_id', 'text', (c) => c.notNull())
        .addColumn('minute', 'bigint', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('destination_outcomes_pk', ['destination_id', 'minute'])
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
