import { AnalyticsStore } from '../../src/analytics/store';
import type { StepRow } from '../../src/api/pages/step-table';
import { parseTableQuery, tableRows } from '../../src/api/pages/step-table';
import type { Db } from '../../src/db';
import { openDatabase } from '../../src/db';
import { bucketUpperMs, latencyBucket } from '../../src/db/buckets';
import type { DeliveryStatus } from '../../src/db/schema';
import { describeTrigger } from '../../src/flows/describe-trigger';
import type { Flow } from '../../src/flows/model';
import { FlowStore } from '../../src/flows/store';

/** The grouped queries behind the flow list and the Webhook Analytics table, on SQLite. */

let db: Db;
beforeEach(async () => {
  db = await openDatabase(':memory:');
});
afterEach(async () => {
  await db.destroy();
});

const HOUR = '2026-11-29T10';
async function rollup(
  flow: string,
  step: string,
  status: DeliveryStatus,
  count: number,
  period = HOUR,
  attempts = 1,
): Promise<void> {
  await db
    .insertInto('delivery_rollups')
    .values({ grain: 'h', period, flow_id: flow, step_id: step, status, attempts, count })
    .execute();
}
async function latency(flow: string, step: string, ms: number, count: number, period = HOUR): Promise<void> {
  await db
    .insertInto('latency_rollups')
    .values({ grain: 'h', period, flow_id: flow, step_id: step, bucket: latencyBucket(ms), count })
    .execute();
}
const range = { from: '2026-11-28T12:00:00.000Z', to: '2026-11-29T11:30:00.000Z' };

test('byStep: counts, success rate and p95 of every step in two grouped queries', async () => {
  await rollup('f1', 'a', 'delivered', 38);
  await rollup('f1', 'a', 'delivered', 1, HOUR, 3); // another attempts count, same step
  await rollup('f1', 'a', 'failed', 1, '2026-11-29T09');
  await rollup('f1', 'b', 'skipped', 2);
  await rollup('f1', 'b', 'retrying', 1);
  await rollup('f2', 'a', 'delivered', 4);
  await rollup('f2', 'a', 'delivered', 50, '2026-11-20T10'); // outside the range
  await rollup('f2', 'z', 'pending', 0); // a row brought back to zero
  await latency('f1', 'a', 20, 38); // 38 of 39 (97%) took 20 ms: the p95
  await latency('f1', 'a', 900, 1);
  await latency('f2', 'a', 40, 4);

  const rows = await new AnalyticsStore(db).byStep(range);
  const byKey = new Map(rows.map((r) => [`${r.flowId}/${r.stepId}`, r]));
  expect([...byKey.keys()].sort()).toEqual(['f1/a', 'f1/b', 'f2/a']);
  expect(byKey.get('f1/a')).toMatchObject({
    counts: { delivered: 39, failed: 1, skipped: 0, retrying: 0, pending: 0 },
    successRate: 39 / 40,
    p95Ms: bucketUpperMs(latencyBucket(20)),
  });
  expect(byKey.get('f1/b')).toMatchObject({
    counts: { skipped: 2, retrying: 1, delivered: 0 },
    successRate: 0,
    p95Ms: null,
  });
  expect(byKey.get('f2/a')).toMatchObject({ counts: { delivered: 4 }, successRate: 1 });
});

test('byFlow: each flow totals over the range', async () => {
  await rollup('f1', 'a', 'delivered', 3);
  await rollup('f1', 'b', 'failed', 2);
  await rollup('f1', 'b', 'skipped', 1);
  await rollup('f2', 'a', 'retrying', 1);
  await rollup('f3', 'a', 'delivered', 9, '2026-11-01T10');
  const totals = await new AnalyticsStore(db).byFlow(range);
  expect([...totals.keys()].sort()).toEqual(['f1', 'f2']);
  expect(totals.get('f1')).toMatchObject({ total: 6, counts: { delivered: 3, failed: 2, skipped: 1 } });
  expect(totals.get('f2')).toMatchObject({ total: 1, counts: { retrying: 1 } });
});

function flow(id: string, trigger: Flow['trigger'], at: string): Flow {
  return {
    id,
    name: `Flow ${id}`,
    status: 'draft',
    trigger,
    steps: [],
    reentry: { mode: 'always' },
    version: 1,
    createdAt: at,
    updatedAt: at,
  };
}

test('listOverview: every flow with who saved it and its list or segment name, in one query', async () => {
  const now = '2026-11-29T10:00:00.000Z';
  await db
    .insertInto('users')
    .values({
      id: 'usr_1',
      email: 'ada@example.com',
      password_hash: 'x',
      role: 'manager',
      totp_secret: null,
      totp_pending: null,
      created_at: now,
      updated_at: now,
      disabled_at: null,
    })
    .execute();
  await db
    .insertInto('lists')
    .values({ id: 'lst_1', name: 'VIP', double_opt_in: 0, created_at: now, updated_at: now })
    .execute();
  const store = new FlowStore(db);
  await store.insert(flow('flw_a', { type: 'list', listId: 'lst_1' }, '2026-11-29T10:00:00.000Z'), [], {
    userId: 'usr_1',
    apiKeyId: null,
  });
  await store.insert(
    flow('flw_b', { type: 'metric', metric: 'Placed Order' }, '2026-11-29T11:00:00.000Z'),
    [],
    {
      userId: 'usr_1',
      apiKeyId: 'key_1',
    },
  );
  await store.insert(flow('flw_c', { type: 'segment', segmentId: 'seg_gone' }, '2026-11-29T12:00:00.000Z'));
  // A later version saved by someone else is the one shown.
  const b = (await store.get('flw_b'))!;
  expect(
    await store.update({ ...b, version: 2, updatedAt: '2026-11-29T13:00:00.000Z' }, 1, [], {
      userId: 'usr_gone',
      apiKeyId: null,
    }),
  ).toBe(true);

  const rows = await store.listOverview();
  expect(rows.map((r) => [r.flow.id, r.flow.version, r.savedBy, r.triggerRefName])).toEqual([
    ['flw_c', 1, null, null],
    ['flw_b', 2, { userId: 'usr_gone', email: null, apiKeyId: null }, null],
    ['flw_a', 1, { userId: 'usr_1', email: 'ada@example.com', apiKeyId: null }, 'VIP'],
  ]);
});

test('triggers read as people say them', () => {
  expect(describeTrigger({ type: 'metric', metric: 'Placed Order' })).toBe('Metric: Placed Order');
  expect(describeTrigger({ type: 'list', listId: 'lst_1' }, 'VIP')).toBe('List: VIP');
  expect(describeTrigger({ type: 'list', listId: 'lst_1' })).toBe('List: lst_1');
  expect(describeTrigger({ type: 'segment', segmentId: 'seg_1' }, 'Churn risk')).toBe('Segment: Churn risk');
  const date = {
    type: 'date' as const,
    property: 'birthday',
    offset: { value: 0, unit: 'days' as const, direction: 'after' as const },
    recurrence: 'annually' as const,
    time: '09:00',
    timezone: 'profile',
  };
  expect(describeTrigger(date)).toBe('Date: birthday');
  expect(describeTrigger({ ...date, offset: { value: 3, unit: 'days', direction: 'before' } })).toBe(
    'Date: birthday (3 days before)',
  );
  expect(describeTrigger({ ...date, offset: { value: 1, unit: 'weeks', direction: 'after' } })).toBe(
    'Date: birthday (1 week after)',
  );
  const drop = { type: 'price_drop' as const, audience: ['viewed' as const], lookbackDays: 30 };
  expect(describeTrigger({ ...drop, threshold: { percent: 20 } })).toBe('Price drop ≥ 20%');
  expect(describeTrigger({ ...drop, threshold: { amount: 5 } })).toBe('Price drop ≥ 5');
});

const step = (over: Partial<StepRow>): StepRow => ({
  flowId: 'f',
  flowName: 'Flow',
  flowStatus: 'live',
  stepId: 's',
  stepName: 'Step',
  host: 'hooks.example.com/x',
  delivered: 0,
  retrying: 0,
  failed: 0,
  skipped: 0,
  successRate: null,
  p95Ms: null,
  ...over,
});

test('the table: failures first by default, any column either way, empty values last, filters', () => {
  const rows = [
    step({ flowId: 'quiet', flowName: 'Alpha' }),
    step({
      flowId: 'ok',
      flowName: 'Beta',
      delivered: 9,
      successRate: 1,
      p95Ms: 40,
      host: 'crm.example.com',
    }),
    step({ flowId: 'bad', flowName: 'Gamma', delivered: 1, failed: 3, successRate: 0.25, p95Ms: 900 }),
    step({ flowId: 'skip', flowName: 'Delta', skipped: 1, successRate: 0 }),
  ];
  const ids = (q: Record<string, string>) => tableRows(rows, parseTableQuery(q)).map((r) => r.flowId);
  expect(ids({})).toEqual(['bad', 'skip', 'quiet', 'ok']);
  expect(ids({ sort: 'nonsense', dir: 'sideways' })).toEqual(['bad', 'skip', 'quiet', 'ok']);
  expect(ids({ sort: 'delivered' })).toEqual(['ok', 'bad', 'skip', 'quiet']);
  expect(ids({ sort: 'flow' })).toEqual(['quiet', 'ok', 'skip', 'bad']);
  expect(ids({ sort: 'flow', dir: 'desc' })).toEqual(['bad', 'skip', 'ok', 'quiet']);
  expect(ids({ sort: 'success', dir: 'asc' })).toEqual(['skip', 'bad', 'ok', 'quiet']);
  expect(ids({ sort: 'success', dir: 'desc' })).toEqual(['ok', 'bad', 'skip', 'quiet']);
  expect(ids({ sort: 'p95', dir: 'asc' })).toEqual(['ok', 'bad', 'skip', 'quiet']);
  expect(ids({ status: 'failures' })).toEqual(['bad', 'skip']);
  expect(ids({ q: 'CRM.example' })).toEqual(['ok']);
  expect(ids({ q: 'gam' })).toEqual(['bad']);
  expect(ids({ flow: 'skip' })).toEqual(['skip']);
  expect(parseTableQuery({})).toEqual({
    sort: 'failures',
    dir: 'desc',
    text: '',
    failuresOnly: false,
    flowId: undefined,
  });
});
