import type { AudienceFacts, Definition } from '../../src/audience/conditions';
import type { FactsSource, MembershipSource } from '../../src/audience/eligibility';
import {
  createEligibilityJudge,
  dbFactsSource,
  decideEligibility,
  passesFlowFilters,
  passesTriggerFilters,
} from '../../src/audience/eligibility';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';
import { DeliveryStore } from '../../src/db/delivery-store';
import type { FilterDefinition } from '../../src/flows/model';

const NOW = new Date('2026-11-29T12:00:00.000Z');
const facts = (profile: Record<string, unknown>, more: Partial<AudienceFacts> = {}): AudienceFacts => ({
  now: NOW,
  profile,
  lists: new Set(),
  metricCounts: new Map(),
  ...more,
});
const vip: Definition = {
  groups: [{ conditions: [{ type: 'profile_property', property: 'vip', operator: 'equals', value: true }] }],
};
const metric = { type: 'metric' };

describe('decideEligibility (pure)', () => {
  test('a profile that passes the flow filters is eligible', () => {
    expect(decideEligibility({ trigger: metric, flowFilters: vip, facts: facts({ vip: true }) })).toEqual({
      eligible: true,
    });
  });

  test('no profile row: "profile deleted", before anything else', () => {
    expect(
      decideEligibility({ trigger: { type: 'list', listId: 'l1' }, flowFilters: vip, facts: undefined }),
    ).toEqual({ eligible: false, reason: 'profile deleted' });
  });

  test('left the triggering list or segment: "no longer in list" / "no longer in segment"', () => {
    const f = facts({ vip: true });
    expect(
      decideEligibility({
        trigger: { type: 'list', listId: 'l1' },
        flowFilters: vip,
        facts: f,
        inTriggerAudience: false,
      }),
    ).toEqual({ eligible: false, reason: 'no longer in list' });
    expect(
      decideEligibility({
        trigger: { type: 'segment', segmentId: 's1' },
        flowFilters: undefined,
        facts: f,
        inTriggerAudience: false,
      }),
    ).toEqual({ eligible: false, reason: 'no longer in segment' });
  });

  test('flow filters that no longer hold: "fails flow filters", naming the group when there are several', () => {
    expect(decideEligibility({ trigger: metric, flowFilters: vip, facts: facts({ vip: false }) })).toEqual({
      eligible: false,
      reason: 'fails flow filters',
    });
    const two: Definition = {
      groups: [
        ...vip.groups,
        { conditions: [{ type: 'profile_property', property: 'country', operator: 'equals', value: 'FR' }] },
      ],
    };
    expect(
      decideEligibility({ trigger: metric, flowFilters: two, facts: facts({ vip: true, country: 'DE' }) }),
    ).toEqual({
      eligible: false,
      reason: 'fails flow filters',
      detail: 'group 2 does not hold',
    });
  });

  test('no flow filters and no audience to leave: eligible', () => {
    expect(decideEligibility({ trigger: metric, flowFilters: undefined, facts: facts({}) })).toEqual({
      eligible: true,
    });
  });
});

describe('trigger filters', () => {
  const big: FilterDefinition = {
    groups: [
      { conditions: [{ type: 'event_property', property: 'value', operator: 'greater_than', value: 100 }] },
    ],
  };
  test('read the event properties; none set passes', () => {
    expect(passesTriggerFilters(big, { value: 120 }, NOW)).toBe(true);
    expect(passesTriggerFilters(big, { value: 80 }, NOW)).toBe(false);
    expect(passesTriggerFilters(big, {}, NOW)).toBe(false);
    expect(passesTriggerFilters(undefined, {}, NOW)).toBe(true);
  });
});

describe.each(TEST_DATABASES)('on %s', (dbKind) => {
  describe('facts from the database', () => {
    async function seeded() {
      const db = await openTestDatabase(dbKind, 'eligibility');
      const at = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();
      await db
        .insertInto('profiles')
        .values({
          id: 'prf_1',
          email: 'ada@example.com',
          phone_number: null,
          external_id: null,
          data: JSON.stringify({ email: 'ada@example.com', properties: { vip: true } }),
          created_at: at(100),
          updated_at: at(100),
        })
        .execute();
      const event = (
        id: string,
        metric: string,
        minutesAgo: number,
        properties: Record<string, unknown> = {},
      ) => ({
        id,
        metric,
        profile_id: 'prf_1',
        profile: '{}',
        properties: JSON.stringify(properties),
        unique_id: null,
        time: at(minutesAgo),
        received_at: at(minutesAgo),
      });
      await db
        .insertInto('events')
        .values([
          event('evt_1', 'Placed Order', 90, { value: 10 }),
          event('evt_2', 'Placed Order', 30, { value: 200 }),
          event('evt_3', 'Opened Email', 5),
        ])
        .execute();
      await db
        .insertInto('runs')
        .values([
          {
            id: 'run_old',
            flow_id: 'flw_1',
            flow_version: 1,
            event_id: 'evt_1',
            started_at: at(90),
            created_at: at(90),
          },
          {
            id: 'run_now',
            flow_id: 'flw_1',
            flow_version: 1,
            event_id: 'evt_2',
            started_at: at(30),
            created_at: at(30),
          },
        ])
        .execute();
      // Every run is entered through FlowEntries, which records when (flow history reads this).
      await db
        .insertInto('flow_entries')
        .values([
          {
            flow_id: 'flw_1',
            profile_id: 'prf_1',
            run_id: 'run_old',
            entered_at: at(90),
            entry_key: 'evt_1',
          },
          {
            flow_id: 'flw_1',
            profile_id: 'prf_1',
            run_id: 'run_now',
            entered_at: at(30),
            entry_key: 'evt_2',
          },
        ])
        .execute();
      return db;
    }

    test('profile flattened as templates see it; metric counts; earlier runs of the flow; metrics since entry', async () => {
      const db = await seeded();
      const source = dbFactsSource(db);
      const f = await source.load(
        'prf_1',
        {
          lists: new Set(),
          metrics: [
            { key: 'all', metric: 'Placed Order', where: [] },
            {
              key: 'big',
              metric: 'Placed Order',
              where: [{ property: 'value', operator: 'greater_than', value: 100 }],
            },
            { key: 'hour', metric: 'Placed Order', lastDays: 1, where: [] },
          ],
          flowHistory: true,
          metricsSinceEntry: new Set(['Opened Email', 'Placed Order']),
        },
        { now: NOW, flowId: 'flw_1', runStartedAt: new Date(NOW.getTime() - 30 * 60_000).toISOString() },
      );
      expect(f?.profile).toMatchObject({ vip: true, email: 'ada@example.com', id: 'prf_1' });
      expect(Object.fromEntries(f!.metricCounts)).toEqual({ all: 2, big: 1, hour: 2 });
      expect(f?.lastEnteredFlowAt).toBe(new Date(NOW.getTime() - 90 * 60_000).toISOString());
      // The triggering order is not "since entry"; the email opened afterwards is.
      expect(Object.fromEntries(f!.metricsSinceEntry!)).toEqual({ 'Opened Email': 1, 'Placed Order': 0 });
      expect(
        await source.load(
          'prf_gone',
          { lists: new Set(), metrics: [], flowHistory: false, metricsSinceEntry: new Set() },
          { now: NOW },
        ),
      ).toBeUndefined();
      await db.destroy();
    });

    test('passesFlowFilters: "not in this flow recently" and "metric zero since entry" at entry', async () => {
      const db = await seeded();
      const source = dbFactsSource(db);
      const notRecently = (days: number): FilterDefinition => ({
        groups: [{ conditions: [{ type: 'not_in_flow_recently', days }] }],
      });
      expect(await passesFlowFilters(source, notRecently(1), 'prf_1', { now: NOW, flowId: 'flw_1' })).toBe(
        false,
      );
      expect(
        await passesFlowFilters(source, notRecently(1), 'prf_1', { now: NOW, flowId: 'flw_other' }),
      ).toBe(true);
      const zeroSince: FilterDefinition = {
        groups: [{ conditions: [{ type: 'metric_zero_since_entry', metric: 'Opened Email' }] }],
      };
      expect(await passesFlowFilters(source, zeroSince, 'prf_1', { now: NOW, flowId: 'flw_1' })).toBe(true);
      expect(await passesFlowFilters(source, undefined, 'prf_gone', { now: NOW })).toBe(true);
      expect(await passesFlowFilters(source, notRecently(1), 'prf_gone', { now: NOW })).toBe(false);
      await db.destroy();
    });

    test('the judge reads the run start from runs: an email opened since entry fails "zero since entry"', async () => {
      const db = await seeded();
      const judge = createEligibilityJudge({ db, now: () => NOW });
      const def = {
        trigger: { type: 'metric' as const, metric: 'Placed Order' },
        flowFilters: {
          groups: [{ conditions: [{ type: 'metric_zero_since_entry', metric: 'Opened Email' }] }],
        },
      };
      expect(await judge.judge({ runId: 'run_now', flowId: 'flw_1', profileId: 'prf_1' }, def)).toEqual({
        eligible: false,
        reason: 'fails flow filters',
      });
      expect(await judge.judge({ runId: 'run_now', flowId: 'flw_1', profileId: 'prf_gone' }, def)).toEqual({
        eligible: false,
        reason: 'profile deleted',
      });
      await db.destroy();
    });
  });

  describe('the judge with list and segment triggers (membership from a fake)', () => {
    const present: FactsSource = {
      load: (_id, _needs, ctx) => Promise.resolve(facts({ vip: true }, { now: ctx.now })),
    };
    const members = (inList: boolean, inSegment: boolean): MembershipSource => ({
      inList: () => Promise.resolve(inList),
      inSegment: () => Promise.resolve(inSegment),
    });
    const run = { runId: 'run_1', flowId: 'flw_1', profileId: 'prf_1' };
    // Loosely typed: list and segment triggers arrive with the lists work.
    const listFlow = { trigger: { type: 'list', listId: 'lst_1' } } as never;
    const segmentFlow = { trigger: { type: 'segment', segmentId: 'seg_1' } } as never;

    test('still a member: eligible; left: skipped with the reason', async () => {
      const db = await openTestDatabase(dbKind, 'eligibility');
      const judge = (inList: boolean, inSegment: boolean) =>
        createEligibilityJudge({
          db,
          facts: present,
          membership: members(inList, inSegment),
          now: () => NOW,
        });
      expect(await judge(true, false).judge(run, listFlow)).toEqual({ eligible: true });
      expect(await judge(false, true).judge(run, listFlow)).toEqual({
        eligible: false,
        reason: 'no longer in list',
      });
      expect(await judge(false, true).judge(run, segmentFlow)).toEqual({ eligible: true });
      expect(await judge(true, false).judge(run, segmentFlow)).toEqual({
        eligible: false,
        reason: 'no longer in segment',
      });
      await db.destroy();
    });
  });

  test('a step skipped before sending is one skipped delivery with no attempts, counted once in the roll-ups', async () => {
    const db = await openTestDatabase(dbKind, 'eligibility');
    const store = new DeliveryStore(db);
    const skip = {
      deliveryId: 'dlv_1',
      runId: 'run_1',
      flowId: 'flw_1',
      flowVersion: 1,
      stepId: 'w',
      profileId: 'prf_1',
      reason: 'fails flow filters',
      context: null,
    };
    await store.recordSkippedUnsent(skip);
    await store.recordSkippedUnsent(skip); // a retried activity writes nothing twice
    expect(await store.get('dlv_1')).toMatchObject({
      status: 'skipped',
      attempts: 0,
      reason: 'fails flow filters',
    });
    const rollups = await db
      .selectFrom('delivery_rollups')
      .select(['grain', 'status', 'attempts', 'count'])
      .orderBy('grain')
      .execute();
    expect(rollups).toEqual([
      { grain: 'd', status: 'skipped', attempts: 0, count: 1 },
      { grain: 'h', status: 'skipped', attempts: 0, count: 1 },
    ]);
    expect(await db.selectFrom('delivery_attempts').selectAll().execute()).toEqual([]);
    await db.destroy();
  });
});
