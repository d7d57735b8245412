import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { latencyBucket } from '../src/db/buckets';
import { AnalyticsStore } from '../src/analytics/store';
import { startPostgres } from '../src/cluster/postgres';
import type { Db } from '../src/db';
import { openDatabase } from '../src/db';
import { percentile } from './stats';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { webhooksPages } from '../src/api/pages/webhooks-page';
import { createViews } from '../src/api/pages/views';
import { FlowStore } from '../src/flows/store';
import type { Flow } from '../src/flows/model';
import type { Principal } from '../src/permissions';

/**
 * `npm run bench:analytics [-- --deliveries N] [--db postgres] [--flows N]`: seeds N deliveries
 * (default 1,000,000) with their attempts and roll-ups into a fresh SQLite database, then times
 * every analytics query the API and the page run. With `--db postgres` the seeded tables are
 * copied into a throwaway PostgreSQL cluster and the queries run there. Prints figures; asserts
 * nothing. Target: each under 50 ms. Then renders the Webhook Analytics page over HTTP with
 * `--flows N` flows (default 50, two webhook steps each; the deliveries belong to the first ten),
 * the way a browser asks for it.
 */

const STATUSES = [
  ['delivered', 0.85],
  ['failed', 0.05],
  ['skipped', 0.05],
  ['retrying', 0.04],
  ['pending', 0.01],
] as const;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** A small deterministic PRNG, so every run seeds the same data. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function seed(file: string, n: number): void {
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const rand = rng(42);
  const now = Date.now();
  const span = 30 * 86_400_000;
  const insertDelivery = db.prepare(
    `insert into deliveries (id, run_id, flow_id, flow_version, step_id, profile_id, status, attempts, first_attempt_at,
       last_attempt_at, next_attempt_at, last_http_status, reason, latency_ms, created_at, updated_at, context, manual)
     values (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, 0)`,
  );
  const insertAttempt = db.prepare(
    `insert into delivery_attempts (delivery_id, attempt, manual, started_at, duration_ms, http_status, error_class, outcome, reason, response_excerpt)
     values (?, ?, 0, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const r = rand();
      let acc = 0;
      let status: (typeof STATUSES)[number][0] = 'delivered';
      for (const [s, p] of STATUSES) {
        acc += p;
        if (r < acc) {
          status = s;
          break;
        }
      }
      const created = new Date(now - Math.floor(rand() * span));
      const iso = created.toISOString();
      const flow = `flw_bench${String(i % 10).padStart(2, '0')}`;
      const stepId = i % 20 < 10 ? 'hook_a' : 'hook_b';
      const attempts =
        status === 'pending'
          ? 0
          : status === 'failed'
            ? 18
            : status === 'skipped'
              ? 1
              : 1 + Math.floor(rand() * rand() * 4);
      const latency = 20 + Math.floor(rand() * rand() * 2000);
      const httpStatus =
        status === 'delivered' ? 200 : status === 'skipped' ? 404 : status === 'pending' ? null : 503;
      const reason =
        httpStatus === 200
          ? 'HTTP 200 OK'
          : httpStatus === 404
            ? 'HTTP 404 Not Found: the endpoint rejected the request'
            : httpStatus
              ? 'HTTP 503 Service Unavailable'
              : 'resend requested';
      const id = `dlv_${i.toString(16).padStart(24, '0')}`;
      insertDelivery.run(
        id,
        `run_bench_${i}`,
        flow,
        stepId,
        `prf_${i % 50_000}`,
        status,
        attempts,
        attempts ? iso : null,
        attempts ? iso : null,
        status === 'retrying' ? new Date(now + 60_000).toISOString() : null,
        httpStatus,
        reason,
        status === 'delivered' ? latency : null,
        iso,
        iso,
      );
      // Attempts: all of them for most, the last three for long failures (enough to page through).
      for (let a = Math.max(1, attempts - 2); a <= attempts; a++) {
        const last = a === attempts;
        const outcome =
          last && status === 'delivered' ? 'delivered' : status === 'skipped' ? 'non_retryable' : 'retryable';
        insertAttempt.run(
          id,
          a,
          iso,
          last ? latency : 30,
          last ? httpStatus : 503,
          null,
          outcome,
          last ? reason : 'HTTP 503 Service Unavailable',
          '{"ok":false}',
        );
      }
    }
  });
  const started = performance.now();
  const chunk = 50_000;
  for (let i = 0; i < n; i += chunk) {
    batch(i, Math.min(n, i + chunk));
    process.stdout.write(`\r  seeded ${Math.min(n, i + chunk)}/${n} deliveries`);
  }
  process.stdout.write('\n');
  // Roll-ups, as DeliveryStore keeps them on every status change, by hour and by day.
  for (const [grain, len] of [
    ['h', 13],
    ['d', 10],
  ] as const) {
    db.exec(`insert into delivery_rollups (grain, period, flow_id, step_id, status, attempts, count)
             select '${grain}', substr(created_at, 1, ${len}), flow_id, step_id, status, attempts, count(*) from deliveries
             group by 2, 3, 4, 5, 6`);
  }
  const latencyRows = db
    .prepare(`select flow_id, step_id, created_at, latency_ms from deliveries where status = 'delivered'`)
    .iterate() as Iterable<{ flow_id: string; step_id: string; created_at: string; latency_ms: number }>;
  const agg = new Map<string, number>();
  for (const r of latencyRows) {
    const b = latencyBucket(r.latency_ms);
    for (const k of [`h|${r.created_at.slice(0, 13)}`, `d|${r.created_at.slice(0, 10)}`]) {
      const key = `${k}|${r.flow_id}|${r.step_id}|${b}`;
      agg.set(key, (agg.get(key) ?? 0) + 1);
    }
  }
  const insertLatency = db.prepare(
    'insert into latency_rollups (grain, period, flow_id, step_id, bucket, count) values (?, ?, ?, ?, ?, ?)',
  );
  db.transaction(() => {
    for (const [k, count] of agg) {
      const [g, p, f, s, b] = k.split('|') as [string, string, string, string, string];
      insertLatency.run(g, p, f, s, Number(b), count);
    }
  })();
  db.exec('analyze');
  const counts = db
    .prepare('select (select count(*) from deliveries) d, (select count(*) from delivery_attempts) a')
    .get() as {
    d: number;
    a: number;
  };
  console.log(
    `  ${counts.d} deliveries, ${counts.a} attempts, roll-ups built in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  db.close();
}

/** The tables the analytics read, streamed from the seeded SQLite file in batches. */
async function copyToPostgres(file: string, to: Db): Promise<void> {
  const started = performance.now();
  const from = new SqliteDatabase(file, { readonly: true });
  for (const table of ['deliveries', 'delivery_attempts', 'delivery_rollups', 'latency_rollups'] as const) {
    // Under PostgreSQL's 65,535 parameters per statement: the widest table has 21 columns.
    let rows: Record<string, unknown>[] = [];
    const flush = async () => {
      if (rows.length > 0) await to.insertInto(table).values(rows).execute();
      rows = [];
    };
    for (const row of from.prepare(`select * from ${table}`).iterate()) {
      rows.push(row as Record<string, unknown>);
      if (rows.length === 2000) await flush();
    }
    await flush();
  }
  from.close();
  // The attempt ids were copied as they were: move the sequence past them.
  await sql`select setval(pg_get_serial_sequence('delivery_attempts', 'id'), coalesce(max(id), 1)) from delivery_attempts`.execute(
    to,
  );
  await sql`analyze`.execute(to);
  console.log(`  copied into PostgreSQL in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function time(label: string, fn: () => Promise<unknown>, runs = 7): Promise<void> {
  await fn(); // warm the page cache once
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  const p50 = percentile(ms, 50);
  const max = Math.max(...ms);
  console.log(
    `  ${label.padEnd(58)} p50 ${p50.toFixed(1).padStart(6)} ms   max ${max.toFixed(1).padStart(6)} ms  ${max < 50 ? '' : '  (over 50 ms)'}`,
  );
}

async function main(): Promise<void> {
  const n = arg('deliveries', 1_000_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-analytics-bench-'));
  const file = path.join(dir, 'hookflow.sqlite');
  console.log(`analytics benchmark: seeding ${n} deliveries into ${file}`);
  (await openDatabase(file)).destroy().catch(() => undefined); // create the schema
  seed(file, n);
  const sqliteDb = await openDatabase(file);
  const onPostgres = process.argv[process.argv.indexOf('--db') + 1] === 'postgres';
  const cluster = onPostgres ? await startPostgres() : undefined;
  let db = sqliteDb;
  if (cluster) {
    await cluster.createDatabase('hookflow_bench');
    db = await openDatabase({ kind: 'postgres', url: cluster.url('hookflow_bench'), poolSize: 2 });
    await copyToPostgres(file, db);
    await sqliteDb.destroy();
  }
  console.log(`database: ${onPostgres ? `PostgreSQL (port ${cluster!.port})` : 'SQLite'}`);
  const store = new AnalyticsStore(db);
  const to = new Date().toISOString();
  const week = new Date(Date.now() - 7 * 86_400_000).toISOString();
  const month = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const day = new Date(Date.now() - 86_400_000).toISOString();
  const flow = { flowId: 'flw_bench03' };
  const step = { flowId: 'flw_bench03', stepId: 'hook_b' };

  console.log('query times (7 runs each):');
  await time('stats, all flows, 30 days (daily series)', () => store.stats({ from: month, to }));
  await time('stats, all flows, 7 days', () => store.stats({ from: week, to }));
  await time('stats, one flow, 30 days', () => store.stats({ ...flow, from: month, to }));
  await time('stats, one step, 24 hours (hourly series)', () => store.stats({ ...step, from: day, to }));
  await time('queue: failed, newest 50', () => store.list({ status: 'failed', limit: 50 }));
  await time('queue: skipped for one step, newest 50', () =>
    store.list({ ...step, status: 'skipped', limit: 50 }),
  );
  await time('queue: delivered for one step, newest 200', () =>
    store.list({ ...step, status: 'delivered', limit: 200 }),
  );
  await time('all deliveries, newest 50', () => store.list({ limit: 50 }));
  const deep = await store.list({ status: 'failed', limit: 200 });
  let cursor = deep.nextCursor!;
  for (let i = 0; i < 50; i++)
    cursor = (await store.list({ status: 'failed', limit: 200, cursor })).nextCursor!;
  await time('queue: failed, page 52 by cursor (10,400 rows in)', () =>
    store.list({ status: 'failed', limit: 200, cursor }),
  );
  const one = deep.deliveries[17]!.id;
  await time('one delivery with its attempts', () => store.get(one));

  const flows = arg('flows', 50);
  await timePage(db, store, flows);
  await db.destroy();
  await cluster?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The repository root (views/ lives there), from bench/ under ts or dist-bench/bench once built. */
function repositoryRoot(): string {
  for (let d = __dirname; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) throw new Error(`no package.json above ${__dirname}`);
  }
}

/** Saves `n` flows of two webhook steps (`flw_bench00`…, the ids the seeded deliveries use), then times GET /webhooks. */
async function timePage(
  db: Awaited<ReturnType<typeof openDatabase>>,
  store: AnalyticsStore,
  n: number,
): Promise<void> {
  const flowStore = new FlowStore(db);
  const now = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    const hook = (id: string) => ({
      id,
      type: 'webhook' as const,
      url: `https://hooks.example.com/bench/${i}/${id}`,
      headers: {},
      body: '{"email": "{{ person.email }}"}',
    });
    const flow: Flow = {
      id: `flw_bench${String(i).padStart(2, '0')}`,
      name: `Bench flow ${i}`,
      status: 'live',
      trigger: { type: 'metric', metric: `Bench ${i}` },
      steps: [hook('hook_a'), hook('hook_b')],
      reentry: { mode: 'always' },
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    await flowStore.insert(flow);
  }
  const viewer: Principal = {
    kind: 'session',
    csrf: 'bench',
    user: {
      id: 'usr_bench',
      email: 'bench@example.com',
      role: 'owner',
      twoStepEnabled: true,
      createdAt: now,
      disabledAt: null,
    },
  };
  const app = express();
  app.use((_req, res, next) => {
    res.locals.principal = viewer;
    next();
  });
  app.use(
    webhooksPages({
      analytics: store,
      flows: flowStore,
      runs: { temporalUrl: (runId: string) => runId },
      backlog: { queued: 0 },
      destinations: { paused: () => Promise.resolve([]) },
      render: createViews(path.join(repositoryRoot(), 'views')),
    }),
  );
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (url: string) => {
    const res = await fetch(`${base}${url}`);
    const html = await res.text();
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${html.slice(0, 200)}`);
    return html;
  };
  const rows = ((await get('/webhooks')).match(/<tr data-row=/g) ?? []).length;
  console.log(`render /webhooks over HTTP, ${n} flows, ${rows} webhook steps in the table (7 runs each):`);
  await time(`GET /webhooks, 7 days (failures first)`, () => get('/webhooks'));
  await time(`GET /webhooks, 30 days, sorted by p95`, () => get('/webhooks?range=30d&sort=p95'));
  await time(`GET /webhooks, 24 hours, filtered to failures`, () =>
    get('/webhooks?range=24h&status=failures'),
  );
  await time(`GET /webhooks/steps/:flow/:step, 7 days`, () => get('/webhooks/steps/flw_bench03/hook_b'));
  await new Promise((resolve) => server.close(resolve));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
