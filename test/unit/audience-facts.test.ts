import type { Definition } from '../../src/audience/conditions';
import { conditionNeeds, metricKey } from '../../src/audience/conditions';
import { loadFacts } from '../../src/audience/facts';
import type { Db } from '../../src/db';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';

const NOW = new Date('2026-11-29T12:00:00.000Z');
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY).toISOString();

describe.each(TEST_DATABASES)('on %s', (dbKind) => {
  let db: Db;
  let seq = 0;

  async function event(
    profileId: string,
    metric: string,
    time: string,
    properties: Record<string, unknown> = {},
  ) {
    seq += 1;
    await db
      .insertInto('events')
      .values({
        id: `evt_${seq}`,
        metric,
        profile_id: profileId,
        profile: '{}',
        properties: JSON.stringify(properties),
        unique_id: null,
        time,
        received_at: time,
      })
      .execute();
  }

  beforeAll(async () => {
    db = await openTestDatabase(dbKind, 'facts');
    await db
      .insertInto('profiles')
      .values({
        id: 'prf_1',
        email: 'ada@example.com',
        phone_number: null,
        external_id: null,
        data: JSON.stringify({
          email: 'ada@example.com',
          first_name: 'Ada',
          location: { city: 'Lyon' },
          properties: { plan: 'pro', email: 'ignored@example.com' },
        }),
        created_at: daysAgo(100),
        updated_at: daysAgo(1),
      })
      .execute();
    await event('prf_1', 'Placed Order', daysAgo(2), { total: 80, currency: 'EUR' });
    await event('prf_1', 'Placed Order', daysAgo(10), { total: 20, currency: 'EUR' });
    await event('prf_1', 'Placed Order', daysAgo(40), { total: 120, currency: 'USD' });
    await event('prf_1', 'Viewed Product', daysAgo(1));
    await event('prf_2', 'Placed Order', daysAgo(1), { total: 500 });
    await db
      .insertInto('list_members')
      .values([
        {
          list_id: 'lst_a',
          profile_id: 'prf_1',
          status: 'subscribed',
          joined_at: daysAgo(5),
          confirmed_at: daysAgo(5),
        },
        {
          list_id: 'lst_b',
          profile_id: 'prf_1',
          status: 'pending',
          joined_at: daysAgo(5),
          confirmed_at: null,
        },
        {
          list_id: 'lst_c',
          profile_id: 'prf_1',
          status: 'subscribed',
          joined_at: daysAgo(5),
          confirmed_at: daysAgo(5),
        },
      ])
      .execute();
    await db
      .insertInto('flow_entries')
      .values([
        {
          flow_id: 'flw_1',
          profile_id: 'prf_1',
          run_id: 'run_old',
          entry_key: 'run_old',
          entered_at: daysAgo(20),
        },
        {
          flow_id: 'flw_1',
          profile_id: 'prf_1',
          run_id: 'run_now',
          entry_key: 'run_now',
          entered_at: daysAgo(3),
        },
        {
          flow_id: 'flw_2',
          profile_id: 'prf_1',
          run_id: 'run_other',
          entry_key: 'run_other',
          entered_at: daysAgo(1),
        },
      ])
      .execute();
  });

  afterAll(async () => {
    await db.destroy();
  });

  const metric = (over: Record<string, unknown>) => ({
    type: 'metric' as const,
    metric: 'Placed Order',
    operator: 'at_least' as const,
    count: 1,
    where: [],
    ...over,
  });

  test('an unknown profile has no facts', async () => {
    expect(await loadFacts(db, 'prf_missing', conditionNeeds({ groups: [] }), { now: NOW })).toBeUndefined();
  });

  test('the profile is flattened: custom properties at the top level, standard fields win', async () => {
    const facts = await loadFacts(db, 'prf_1', conditionNeeds({ groups: [] }), { now: NOW });
    expect(facts?.profile).toEqual({
      id: 'prf_1',
      email: 'ada@example.com',
      first_name: 'Ada',
      location: { city: 'Lyon' },
      plan: 'pro',
    });
    expect(facts?.lists.size).toBe(0);
    expect(facts?.metricCounts.size).toBe(0);
  });

  test('lists: only confirmed memberships of the lists asked for', async () => {
    const def: Definition = {
      groups: [
        {
          conditions: [
            { type: 'list_membership', listId: 'lst_a', operator: 'in' },
            { type: 'list_membership', listId: 'lst_b', operator: 'in' },
            { type: 'list_membership', listId: 'lst_z', operator: 'in' },
          ],
        },
      ],
    };
    const facts = await loadFacts(db, 'prf_1', conditionNeeds(def), { now: NOW });
    expect([...(facts?.lists ?? [])]).toEqual(['lst_a']);
  });

  test('metric counts: all time, a window, where rules on properties, other profiles apart', async () => {
    const all = metric({});
    const month = metric({ lastDays: 30 });
    const week = metric({ lastDays: 7 });
    const big = metric({ where: [{ property: 'total', operator: 'greater_than', value: 50 }] });
    const bigEurMonth = metric({
      lastDays: 30,
      where: [
        { property: 'total', operator: 'greater_than', value: 50 },
        { property: 'currency', operator: 'equals', value: 'eur' },
      ],
    });
    const never = metric({ metric: 'Refunded' });
    const def: Definition = { groups: [{ conditions: [all, month, week, big, bigEurMonth, never] }] };
    const facts = await loadFacts(db, 'prf_1', conditionNeeds(def), { now: NOW });
    const count = (c: Parameters<typeof metricKey>[0]) => facts?.metricCounts.get(metricKey(c));
    expect([count(all), count(month), count(week), count(big), count(bigEurMonth), count(never)]).toEqual([
      3, 2, 1, 2, 1, 0,
    ]);
  });

  test('flow history: the latest entry before the run being decided, and metrics since it started', async () => {
    const def: Definition = {
      groups: [
        {
          conditions: [
            { type: 'not_in_flow_recently', days: 7 },
            { type: 'metric_zero_since_entry', metric: 'Placed Order' },
            { type: 'metric_zero_since_entry', metric: 'Viewed Product' },
            { type: 'metric_zero_since_entry', metric: 'Refunded' },
          ],
        },
      ],
    };
    const needs = conditionNeeds(def);
    const facts = await loadFacts(db, 'prf_1', needs, {
      now: NOW,
      flowId: 'flw_1',
      runStartedAt: daysAgo(3),
    });
    expect(facts?.lastEnteredFlowAt).toBe(daysAgo(20));
    expect(facts?.metricsSinceEntry).toEqual(
      new Map([
        ['Placed Order', 1],
        ['Viewed Product', 1],
        ['Refunded', 0],
      ]),
    );
    const first = await loadFacts(db, 'prf_1', needs, {
      now: NOW,
      flowId: 'flw_3',
      runStartedAt: daysAgo(3),
    });
    expect(first?.lastEnteredFlowAt).toBeUndefined();
    // Without a flow, no flow facts are read.
    const none = await loadFacts(db, 'prf_1', needs, { now: NOW });
    expect(none?.lastEnteredFlowAt).toBeUndefined();
    expect(none?.metricsSinceEntry).toBeUndefined();
  });

  test('the event given is passed through for trigger filters', async () => {
    const facts = await loadFacts(db, 'prf_1', conditionNeeds({ groups: [] }), {
      now: NOW,
      event: { total: 3 },
    });
    expect(facts?.event).toEqual({ total: 3 });
  });
});
