import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../src/cluster/postgres';
import type { Db } from '../src/db';
import { openDatabase } from '../src/db';
import { createLogger } from '../src/logger';
import { RunBacklog } from '../src/runs/backlog';
import { percentile } from './stats';

/**
 * `node dist-bench/bench/backlog-count.js [--queued N] [--started M]`: what one count of the run
 * backlog (the query {@link RunBacklog} runs once a second per API process) costs on SQLite and on
 * PostgreSQL with N runs waiting (default 50,000, the default bound) among M started ones (default
 * 200,000). Per request, this cost would cap ingestion; once a second it is noise. Asserts nothing.
 */

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return v;
}

async function seed(db: Db, queued: number, started: number): Promise<void> {
  const at = new Date().toISOString();
  const total = queued + started;
  for (let i = 0; i < total; i += 1000) {
    const rows = Array.from({ length: Math.min(1000, total - i) }, (_, k) => {
      const n = i + k;
      return {
        id: `run_bench_${n}`,
        flow_id: 'flow_bench',
        flow_version: 1,
        event_id: null,
        profile_id: `prof_${n}`,
        context: null,
        // Spread among the started ones, as a backlog grows between runs that started.
        started_at: Math.floor(((n + 1) * queued) / total) !== Math.floor((n * queued) / total) ? null : at,
        created_at: at,
      };
    });
    await db.insertInto('runs').values(rows).execute();
  }
}

async function measure(label: string, db: Db, queued: number, started: number): Promise<void> {
  await seed(db, queued, started);
  let counted = 0;
  const backlog = new RunBacklog({
    db,
    max: Number.MAX_SAFE_INTEGER,
    logger: createLogger('bench', 'warn'),
    onCount: (n) => (counted = n),
  });
  const ms: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    await backlog.refresh();
    ms.push(performance.now() - t);
  }
  console.log(
    `${label}: ${counted.toLocaleString('en-US')} queued of ${(queued + started).toLocaleString('en-US')} runs: ` +
      `count p50 ${percentile(ms, 50).toFixed(2)} ms, p95 ${percentile(ms, 95).toFixed(2)} ms ` +
      `(once a second per API process: ${(percentile(ms, 50) / 10).toFixed(2)} % of one core)`,
  );
}

async function main(): Promise<void> {
  const queued = arg('queued', 50_000);
  const started = arg('started', 200_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-bench-backlog-'));
  try {
    const sqlite = await openDatabase(path.join(dir, 'bench.sqlite'));
    await measure('SQLite', sqlite, queued, started);
    await sqlite.destroy();
    const cluster = await startPostgres();
    try {
      const pg = await openDatabase({ kind: 'postgres', url: cluster.url(), poolSize: 2 });
      await measure('PostgreSQL', pg, queued, started);
      await pg.destroy();
    } finally {
      await cluster.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
