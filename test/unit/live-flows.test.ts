import type { Db } from '../../src/db';
import { LiveFlows } from '../../src/flows/live-flows';
import { FlowStore } from '../../src/flows/store';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';

describe.each(TEST_DATABASES)('live flows of a metric, remembered, on %s', (dbKind) => {
  let db: Db;
  let clock: number;
  const at = new Date().toISOString();
  const order = (id: string, metric: string) => ({
    id,
    name: id,
    status: 'live' as const,
    trigger: { type: 'metric' as const, metric },
    steps: [],
    version: 1,
    createdAt: at,
    updatedAt: at,
  });
  const ids = async (live: LiveFlows, metric: string) => (await live.byMetric(db, metric)).map((f) => f.id);

  beforeEach(async () => {
    db = await openTestDatabase(dbKind, 'live_flows');
    clock = 1_000_000;
  });
  afterEach(() => db.destroy());

  test('a flow saved, taken off live or deleted in this process counts for the next event at once', async () => {
    const live = new LiveFlows({ ttlMs: 60_000, now: () => clock });
    const store = new FlowStore(db);
    expect(await ids(live, 'Placed Order')).toEqual([]);
    await store.insert(order('flw_a', 'Placed Order'));
    expect(await ids(live, 'Placed Order')).toEqual(['flw_a']);
    await store.update({ ...order('flw_a', 'Placed Order'), status: 'draft', version: 2 }, 1);
    expect(await ids(live, 'Placed Order')).toEqual([]);
    await store.update({ ...order('flw_a', 'Placed Order'), version: 3 }, 2);
    await store.insert(order('flw_b', 'Placed Order'));
    expect(await ids(live, 'Placed Order')).toEqual(['flw_a', 'flw_b']);
    // A save that lost to another (wrong expected version) changes nothing and is no reason to read.
    expect(await store.update({ ...order('flw_a', 'Placed Order'), version: 9 }, 7)).toBe(false);
    expect(await store.delete('flw_b', 1)).toBe(true);
    expect(await ids(live, 'Placed Order')).toEqual(['flw_a']);
  });

  test('a flow changed by another API process counts at once; a row changed by hand within the bound', async () => {
    const remembered = new LiveFlows({ ttlMs: 2000, now: () => clock });
    const other = new LiveFlows({ ttlMs: 2000, now: () => clock });
    const uncached = new LiveFlows();
    await new FlowStore(db).insert(order('flw_a', 'Placed Order'));
    expect(await ids(remembered, 'Placed Order')).toEqual(['flw_a']);
    expect(await ids(other, 'Placed Order')).toEqual(['flw_a']);
    // Another process saves through its own store: the shared count moves, both caches read again.
    await new FlowStore(db).update({ ...order('flw_a', 'Placed Order'), status: 'draft', version: 2 }, 1);
    expect(await ids(remembered, 'Placed Order')).toEqual([]);
    expect(await ids(other, 'Placed Order')).toEqual([]);
    await new FlowStore(db).insert(order('flw_b', 'Placed Order'));
    expect(await ids(other, 'Placed Order')).toEqual(['flw_b']);
    expect(await ids(remembered, 'Placed Order')).toEqual(['flw_b']);
    // A row changed by hand, outside hookflow, moves no count: seen once the bound passed.
    await db.updateTable('flows').set({ status: 'draft' }).where('id', '=', 'flw_b').execute();
    expect(await ids(uncached, 'Placed Order')).toEqual([]);
    expect(await ids(remembered, 'Placed Order')).toEqual(['flw_b']);
    clock += 2001;
    expect(await ids(remembered, 'Placed Order')).toEqual([]);
  });

  test('each metric and trigger type is remembered apart', async () => {
    const live = new LiveFlows({ ttlMs: 60_000, now: () => clock });
    await new FlowStore(db).insert(order('flw_a', 'Placed Order'));
    await new FlowStore(db).insert({
      ...order('flw_d', 'unused'),
      trigger: {
        type: 'date',
        property: 'birthday',
        offset: { value: 0, unit: 'days', direction: 'after' },
        recurrence: 'annually',
        time: '09:00',
        timezone: 'profile',
      },
    });
    expect(await ids(live, 'Placed Order')).toEqual(['flw_a']);
    expect(await ids(live, 'Started Checkout')).toEqual([]);
    expect((await live.byType(db, 'date')).map((f) => f.id)).toEqual(['flw_d']);
  });
});
