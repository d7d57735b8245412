import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { RunStartQueue } from '../../src/audience/run-start-queue';
import type { Db, DialectName } from '../../src/db';
import { openDatabase } from '../../src/db';
import { EntryStore } from '../../src/db/entry-store';
import type { RunRow } from '../../src/db/entry-store';
import { FlowStore } from '../../src/flows/store';
import { createTestPostgresDatabase, TEST_DATABASES } from '../support/databases';

/**
 * Several API processes share the runs outbox: each run recorded but not started is claimed by one
 * starter at a time (one UPDATE … RETURNING), started by it once, and claimable again when the
 * claim lapses. Two connections (PostgreSQL: two pools) stand for two processes.
 */
const RUNS = 450;
const created = '2026-11-29T10:00:00.000Z';
const logger = pino({ level: 'silent' });

/** A launcher that counts the starts of each run id, slow enough for the two starters to overlap. */
function countingLauncher(starts: Map<string, number>) {
  return {
    async launch(row: RunRow) {
      starts.set(row.id, (starts.get(row.id) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 2));
      return true;
    },
  };
}

describe.each(TEST_DATABASES)('run claims on %s', (kind: DialectName) => {
  let dir: string;
  let a: Db;
  let b: Db;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-claims-'));
    if (kind === 'postgres') {
      const url = await createTestPostgresDatabase('claims');
      a = await openDatabase({ kind: 'postgres', url, poolSize: 4 });
      b = await openDatabase({ kind: 'postgres', url, poolSize: 4 });
    } else {
      a = await openDatabase(path.join(dir, 'claims.db'));
      b = await openDatabase(path.join(dir, 'claims.db'));
    }
    await new FlowStore(a).insert({
      id: 'flw_outbox',
      name: 'outbox',
      status: 'live',
      trigger: { type: 'metric', metric: 'Signed up' },
      steps: [],
      version: 1,
      createdAt: created,
      updatedAt: created,
    });
    const context = JSON.stringify({ person: { id: 'prf_1' }, event: {} });
    // Recorded by a process that is gone: unclaimed (the column's default), as after migration 0013.
    await a
      .insertInto('runs')
      .values(
        Array.from({ length: RUNS }, (_, i) => ({
          id: `run_${String(i).padStart(4, '0')}`,
          flow_id: 'flw_outbox',
          flow_version: 1,
          event_id: null,
          profile_id: 'prf_1',
          context,
          started_at: null,
          created_at: created,
        })),
      )
      .execute();
  });

  afterEach(async () => {
    await Promise.all([a.destroy(), b.destroy()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('two starters claiming at once never claim the same run', async () => {
    const now = new Date().toISOString();
    const until = new Date(Date.now() + 30_000).toISOString();
    const claims = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        new EntryStore(i % 2 === 0 ? a : b).claimLapsed(`api:${i % 2}`, now, until, 100),
      ),
    );
    const ids = claims.flat().map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(RUNS);
    // Each row says who holds it: the claimant whose statement returned it.
    const rows = await a.selectFrom('runs').select(['id', 'claimed_by', 'claim_expires_at']).execute();
    const holder = new Map(claims.flatMap((c, i) => c.map((r) => [r.id, `api:${i % 2}`] as const)));
    for (const row of rows) {
      expect(row.claimed_by).toBe(holder.get(row.id));
      expect(row.claim_expires_at).toBe(until);
    }
    // Nothing is left to claim while the claims hold.
    expect(await new EntryStore(b).claimLapsed('api:2', now, until, 100)).toEqual([]);
  });

  test('an expired claim is claimable again; the first holder cannot renew it; a released one at once', async () => {
    const t0 = Date.parse('2026-11-29T10:00:00.000Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    const first = await new EntryStore(a).claimLapsed('api:a', iso(t0), iso(t0 + 1000), 10);
    expect(first).toHaveLength(10);
    const ids = first.map((r) => r.id);
    // Still held at t0 + 999: B takes other runs, never these.
    const early = await new EntryStore(b).claimLapsed('api:b', iso(t0 + 999), iso(t0 + 31_000), RUNS);
    expect(early.map((r) => r.id).filter((id) => ids.includes(id))).toEqual([]);
    expect(early).toHaveLength(RUNS - 10);
    // Lapsed at t0 + 1000: B takes them over, and A's renewal finds it no longer holds them.
    const later = await new EntryStore(b).claimLapsed('api:b', iso(t0 + 1000), iso(t0 + 31_000), RUNS);
    expect(later.map((r) => r.id).sort()).toEqual(ids);
    expect(await new EntryStore(a).renewClaims('api:a', ids, iso(t0 + 2000))).toEqual([]);
    // B releases five: claimable at once (before B's claim would lapse), by anyone.
    await new EntryStore(b).releaseClaims('api:b', ids.slice(0, 5));
    const released = await new EntryStore(a).claimLapsed('api:a', iso(t0 + 1001), iso(t0 + 60_000), RUNS);
    expect(released.map((r) => r.id).sort()).toEqual(ids.slice(0, 5));
    // A run marked started is never claimed again, lapsed or not.
    await new EntryStore(a).markStarted(ids, iso(t0 + 2000));
    expect(
      await new EntryStore(b).claimLapsed('api:b', iso(t0 + 3_600_000), iso(t0 + 3_700_000), RUNS),
    ).toHaveLength(RUNS - 10);
  });

  test('two run starters polling the same outbox start every run exactly once and mark it started', async () => {
    const starts = new Map<string, number>();
    const opts = { logger, pollMs: 1000, concurrency: 16, leaseMs: 30_000 };
    const qa = new RunStartQueue({ ...opts, db: a, launcher: countingLauncher(starts), claimant: 'api:a' });
    const qb = new RunStartQueue({ ...opts, db: b, launcher: countingLauncher(starts), claimant: 'api:b' });
    let byA = 0;
    let byB = 0;
    for (let round = 0; round < 10 && byA + byB < RUNS; round++) {
      const [na, nb] = await Promise.all([qa.poll(), qb.poll()]);
      byA += na;
      byB += nb;
      await Promise.all([qa.idle(), qb.idle()]);
    }
    expect(byA + byB).toBe(RUNS);
    // Both took part: the claim shared the rows rather than one starter waiting for the other.
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    expect(starts.size).toBe(RUNS);
    expect([...starts.values()].filter((n) => n !== 1)).toEqual([]);
    const left = await a.selectFrom('runs').select('id').where('started_at', 'is', null).execute();
    expect(left).toEqual([]);
    // Nothing is left to start: a later poll takes nothing.
    expect(await qa.poll()).toBe(0);
    await Promise.all([qa.close(), qb.close()]);
  });

  test('a start Temporal refuses is retried until it is accepted; closing releases what is left', async () => {
    let down = true;
    const starts: string[] = [];
    const launcher = {
      launch(row: RunRow) {
        if (down) return Promise.reject(new Error('Temporal unavailable'));
        starts.push(row.id);
        return Promise.resolve(true);
      },
    };
    const q = new RunStartQueue({
      db: a,
      launcher,
      logger,
      claimant: 'api:a',
      pollMs: 1000,
      concurrency: 4,
      leaseMs: 30_000,
    });
    expect(await q.poll()).toBe(200);
    await new Promise((r) => setTimeout(r, 600));
    expect(starts).toEqual([]);
    down = false;
    await q.idle();
    expect(starts).toHaveLength(200);
    // Temporal down again: closing gives up the claims on what was not started, for another process.
    down = true;
    expect(await q.poll()).toBe(200);
    await q.close(100);
    const free = await new EntryStore(b).claimLapsed('api:b', new Date().toISOString(), created, RUNS);
    expect(free).toHaveLength(RUNS - 200);
  });
});
