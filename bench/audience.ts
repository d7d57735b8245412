import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pino from 'pino';
import type { SegmentDefinition } from '../src/audience/segments';
import { SegmentService, noLists } from '../src/audience/segments';
import { openDatabase } from '../src/db';
import { peakRssMiB, percentile } from './stats';

/**
 * `npm run bench:audience [-- --profiles N --samples S]`: seeds N profiles (default 100,000) with
 * two events each into a fresh SQLite database and 20 segments, then times segment evaluation per
 * event and per profile change (what `POST /api/events` adds), and one segment's recompute over
 * every profile (time, peak RSS). Prints figures; asserts nothing.
 */

const METRICS = ['Placed Order', 'Viewed Product', 'Started Checkout', 'Opened Email'];
const PLANS = ['free', 'pro', 'team'];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const profileId = (i: number) => `prf_${String(i).padStart(8, '0')}`;

/** Twenty segments of the kinds people define: properties, what someone did, and both. */
function twentySegments(): SegmentDefinition[] {
  const defs: SegmentDefinition[] = [];
  for (let i = 0; i < 7; i++) {
    defs.push({
      groups: [
        {
          conditions: [
            { type: 'profile_property', property: 'plan', operator: 'equals', value: PLANS[i % 3]! },
            { type: 'profile_property', property: 'score', operator: 'greater_than', value: 50 + i },
          ],
        },
      ],
    });
  }
  for (let i = 0; i < 8; i++) {
    defs.push({
      groups: [
        {
          conditions: [
            {
              type: 'metric',
              metric: METRICS[i % METRICS.length]!,
              operator: i % 2 === 0 ? 'at_least' : 'zero',
              count: 1,
              lastDays: i < 4 ? 30 : undefined,
              where: i === 0 ? [{ property: 'value', operator: 'greater_than', value: 50 }] : [],
            },
          ],
        },
      ],
    });
  }
  for (let i = 0; i < 5; i++) defs.push(mixed(i));
  return defs;
}

/** A property and a metric condition: the recompute measured below reads both. */
function mixed(i: number): SegmentDefinition {
  return {
    groups: [
      {
        conditions: [
          { type: 'profile_property', property: 'signed_up', operator: 'in_last_days', value: 60 + i },
        ],
      },
      {
        conditions: [
          {
            type: 'metric',
            metric: METRICS[i % METRICS.length]!,
            operator: 'at_least',
            count: 1,
            lastDays: 90,
            where: [],
          },
        ],
      },
    ],
  };
}

/** Profiles and two events each, inserted directly (the schema comes from openDatabase's migrations). */
function seed(file: string, profiles: number, defs: readonly SegmentDefinition[]): void {
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const now = Date.now();
  const insertProfile = db.prepare(
    `insert into profiles (id, email, phone_number, external_id, data, created_at, updated_at) values (?, ?, null, null, ?, ?, ?)`,
  );
  const insertEvent = db.prepare(
    `insert into events (id, metric, profile_id, profile, properties, unique_id, time, received_at) values (?, ?, ?, '{}', ?, null, ?, ?)`,
  );
  const insertSegment = db.prepare(
    `insert into segments (id, name, definition, version, recompute_status, recompute_cursor, recompute_processed,
       recompute_total, recompute_started_at, recompute_finished_at, created_at, updated_at)
     values (?, ?, ?, 1, 'idle', null, 0, 0, null, null, ?, ?)`,
  );
  db.transaction(() => {
    const at = new Date(now).toISOString();
    defs.forEach((d, i) => insertSegment.run(`seg_bench_${i}`, `bench ${i}`, JSON.stringify(d), at, at));
    for (let i = 0; i < profiles; i++) {
      const id = profileId(i);
      const email = `p${i}@example.com`;
      const data = {
        email,
        first_name: `P${i}`,
        properties: {
          plan: PLANS[i % 3],
          score: i % 100,
          signed_up: new Date(now - (i % 365) * 86_400_000).toISOString(),
        },
      };
      insertProfile.run(id, email, JSON.stringify(data), at, at);
      for (let e = 0; e < 2; e++) {
        const time = new Date(now - ((i * 7 + e * 13) % 120) * 86_400_000).toISOString();
        insertEvent.run(
          `evt_${i}_${e}`,
          METRICS[(i + e) % METRICS.length],
          id,
          JSON.stringify({ value: (i * 31) % 100 }),
          time,
          time,
        );
      }
    }
  })();
  db.close();
}

async function timeEach(samples: number, task: (i: number) => Promise<void>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = process.hrtime.bigint();
    await task(i);
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return ms;
}

const summary = (ms: number[]) =>
  `mean ${fmt(ms.reduce((a, b) => a + b, 0) / ms.length, 3)} ms, p50 ${fmt(percentile(ms, 50), 3)} ms, p95 ${fmt(percentile(ms, 95), 3)} ms`;

async function main(): Promise<void> {
  const profiles = arg('profiles', 100_000);
  const samples = arg('samples', 2000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-bench-audience-'));
  const file = path.join(dir, 'bench.db');
  try {
    // Creates the schema, then the seed writes through its own connection.
    await (await openDatabase(file)).destroy();
    const defs = twentySegments();
    console.log(`seeding ${profiles} profiles, ${profiles * 2} events, ${defs.length} segments...`);
    const seedStart = Date.now();
    seed(file, profiles, defs);
    console.log(`  seeded in ${fmt((Date.now() - seedStart) / 1000, 1)} s`);

    const db = await openDatabase(file);
    const service = new SegmentService({ db, lists: noLists, logger: pino({ level: 'warn' }) });
    const pick = (i: number) => profileId((i * 7919) % profiles);

    console.log(`segment evaluation with ${defs.length} segments defined (${samples} samples each):`);
    // The seeded segments have no members yet: the first pass over the sampled profiles also writes
    // their memberships (entries), the second is the steady state most events and changes see.
    const event = (i: number, profileChanged: boolean) =>
      service.reevaluate(pick(i), { kind: 'event', metric: METRICS[i % METRICS.length]!, profileChanged });
    for (const pass of ['first pass, memberships written', 'steady state, nothing moves']) {
      console.log(`  ${pass}:`);
      const perEvent = await timeEach(samples, (i) => event(i, false));
      console.log(`    per event (metric only)            ${summary(perEvent)}`);
      const perEventChanged = await timeEach(samples, (i) => event(i + samples, true));
      console.log(`    per event with a profile change    ${summary(perEventChanged)}`);
      const perProfile = await timeEach(samples, (i) =>
        service.reevaluate(pick(i + 2 * samples), { kind: 'profile' }),
      );
      console.log(`    per profile change (no event)      ${summary(perProfile)}`);
    }

    console.log(`recomputing one segment (a property and a metric condition) over ${profiles} profiles...`);
    const rssBefore = process.memoryUsage().rss / 2 ** 20;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss / 2 ** 20);
    }, 50);
    const t = Date.now();
    const seg = await service.create({ name: 'recompute', definition: mixed(0) });
    await service.idle();
    const seconds = (Date.now() - t) / 1000;
    clearInterval(sampler);
    const done = await service.get(seg.id);
    console.log(
      `  time                                 ${fmt(seconds, 1)} s (${fmt(profiles / seconds, 0)} profiles/s)`,
    );
    console.log(
      `  members                              ${done.memberCount} (processed ${done.recompute.processed})`,
    );
    console.log(`  RSS before / peak during             ${fmt(rssBefore, 0)} / ${fmt(rssPeak, 0)} MiB`);
    console.log(
      `  process peak RSS (VmHWM, seed incl.) ${fmt(
        peakRssMiB(process.pid, (f) => fs.readFileSync(f, 'utf8')),
        0,
      )} MiB`,
    );
    await service.close();
    await db.destroy();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
