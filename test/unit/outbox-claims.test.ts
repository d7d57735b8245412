import pino from 'pino';
import { FlowEntries } from '../../src/audience/entries';
import { loadConfig } from '../../src/config';
import type { Db } from '../../src/db';
import { openDatabase } from '../../src/db';
import { FlowStore } from '../../src/flows/store';
import type { FlowRunInput } from '../../src/shared/run-types';
import type { RunStarter } from '../../src/temporal/run-starter';
import { createTestPostgresDatabase } from '../support/databases';

/**
 * Two API processes on one PostgreSQL database sweep the runs outbox at the same moment: each run
 * recorded but not started must be started by one of them, once (SQLite has a single API process).
 */
const RUNS = 450;

/** A starter that counts the starts of each run id, slow enough for the two sweeps to overlap. */
function countingStarter(starts: Map<string, number>): RunStarter {
  return {
    async flowRun(input: FlowRunInput) {
      starts.set(input.runId, (starts.get(input.runId) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 2));
      return {};
    },
  } as unknown as RunStarter;
}

let a: Db;
let b: Db;

beforeAll(async () => {
  const url = await createTestPostgresDatabase('outbox');
  // Two pools, as two processes would have.
  a = await openDatabase({ kind: 'postgres', url, poolSize: 4 });
  b = await openDatabase({ kind: 'postgres', url, poolSize: 4 });
  const created = '2026-11-29T10:00:00.000Z';
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

afterAll(async () => {
  await Promise.all([a.destroy(), b.destroy()]);
});

test('two processes sweeping the same outbox at once start every run exactly once', async () => {
  const starts = new Map<string, number>();
  const deps = { config: loadConfig({}), logger: pino({ level: 'silent' }) };
  const sweepA = new FlowEntries({ ...deps, db: a, starter: countingStarter(starts) });
  const sweepB = new FlowEntries({ ...deps, db: b, starter: countingStarter(starts) });
  const [byA, byB] = await Promise.all([sweepA.sweep(), sweepB.sweep()]);

  expect(byA + byB).toBe(RUNS);
  // Both took part: the claim shared the rows rather than one sweep waiting for the other.
  expect(byA).toBeGreaterThan(0);
  expect(byB).toBeGreaterThan(0);
  expect(starts.size).toBe(RUNS);
  expect([...starts.values()].filter((n) => n !== 1)).toEqual([]);
  const left = await a.selectFrom('runs').select('id').where('started_at', 'is', null).execute();
  expect(left).toEqual([]);
  // Nothing is left to start: a later sweep starts nothing again.
  expect(await sweepA.sweep()).toBe(0);
});
