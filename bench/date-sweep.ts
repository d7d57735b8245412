import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { DateSweeper } from '../src/audience/date-sweep';
import { FlowEntries } from '../src/audience/entries';
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/db';
import type { Flow } from '../src/flows/model';
import { FlowStore } from '../src/flows/store';
import { createLogger } from '../src/logger';
import type { RunStarter } from '../src/temporal/run-starter';
import { peakRssMiB } from './stats';

/**
 * `make bench-dates [ARGS="--profiles N"]`: seeds N profiles (default 100,000) with a birthday
 * spread over the year (formats and zones mixed) into a fresh SQLite database and a live annual
 * date flow, then times the sweep the flow's schedule runs: a one-minute window (every minute's
 * cost: the scan) and a one-day catch-up window (entering the day's birthdays). Runs are recorded
 * through FlowEntries as in production; the Temporal start is a stub (its rate is bench-lists').
 * Prints figures; asserts nothing.
 */

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney'];
const pad = (n: number) => String(n).padStart(2, '0');

async function main(): Promise<void> {
  const n = arg('profiles', 100_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-bench-dates-'));
  const file = path.join(dir, 'bench.sqlite');
  const db = await openDatabase(file);
  const now = '2026-05-17T00:00:00.000Z';
  const raw = new SqliteDatabase(file);
  const insert = raw.prepare(
    'INSERT INTO profiles (id, email, phone_number, external_id, data, created_at, updated_at) VALUES (?, ?, NULL, NULL, ?, ?, ?)',
  );
  raw.transaction(() => {
    for (let i = 0; i < n; i++) {
      const day = new Date(Date.UTC(1990 + (i % 30), 0, 1) + (i % 365) * 86_400_000);
      const [y, m, d] = [day.getUTCFullYear(), pad(day.getUTCMonth() + 1), pad(day.getUTCDate())];
      const birthday = i % 3 === 0 ? `${y}-${m}-${d}` : i % 3 === 1 ? `${m}/${d}/${y}` : `${y}/${m}/${d}`;
      const data = {
        email: `p${i}@example.com`,
        location: { timezone: ZONES[i % ZONES.length] },
        properties: { birthday, plan: 'pro' },
      };
      insert.run(`prf_${String(i).padStart(8, '0')}`, `p${i}@example.com`, JSON.stringify(data), now, now);
    }
  })();
  raw.close();

  const config = loadConfig({});
  const logger = createLogger('bench', 'silent');
  let starts = 0;
  const starter = {
    flowRun: () => {
      starts++;
      return Promise.resolve({});
    },
  } as unknown as RunStarter;
  const entries = new FlowEntries({ db, starter, config, logger });
  const sweeper = new DateSweeper({ db, entries, config, logger });
  const flow: Flow = {
    id: 'flw_bench',
    name: 'birthday',
    status: 'live',
    trigger: {
      type: 'date',
      property: 'birthday',
      offset: { value: 0, unit: 'days', direction: 'after' },
      recurrence: 'annually',
      time: '09:00',
      timezone: 'profile',
    },
    steps: [],
    reentry: { mode: 'always' },
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
  await new FlowStore(db).insert(flow);

  const time = async (to: string) => {
    const t0 = performance.now();
    const r = await sweeper.sweep(flow.id, new Date(to));
    return { ...r, ms: performance.now() - t0 };
  };
  const minute = await time('2026-05-17T00:01:00.000Z');
  const day = await time('2026-05-18T00:01:00.000Z');
  const again = await time('2026-05-18T00:02:00.000Z');
  console.log(`profiles with the date property: ${n}`);
  console.log(`one-minute sweep: ${minute.ms.toFixed(0)} ms, ${minute.started} runs started`);
  console.log(
    `one-day catch-up sweep: ${day.ms.toFixed(0)} ms, ${day.started} runs entered (${starts} starts stubbed)`,
  );
  console.log(`next one-minute sweep: ${again.ms.toFixed(0)} ms, ${again.started} runs started`);
  console.log(
    `scan rate: ${((n / minute.ms) * 1000).toFixed(0)} profiles/s; peak RSS ${peakRssMiB(process.pid, (f) => fs.readFileSync(f, 'utf8')).toFixed(0)} MiB`,
  );
  await db.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench-dates failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
