import type { AudienceFacts, Definition, ValueRule } from '../../src/audience/conditions';
import {
  MAX_CONDITIONS,
  conditionNeeds,
  dateValue,
  evaluateDefinition,
  firstFailingGroup,
  flowFilterSchema,
  matchesRule,
  metricKey,
  propertyOf,
  segmentDefinitionSchema,
  triggerFilterSchema,
} from '../../src/audience/conditions';
import { toProblems } from '../../src/api/validation';

const NOW = new Date('2026-11-29T12:00:00.000Z');
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY).toISOString();

const rule = (operator: ValueRule['operator'], value?: ValueRule['value']): ValueRule => ({
  operator,
  value,
});
const facts = (over: Partial<AudienceFacts> = {}): AudienceFacts => ({
  now: NOW,
  profile: {},
  lists: new Set(),
  metricCounts: new Map(),
  ...over,
});
const prop = (property: string, operator: ValueRule['operator'], value?: ValueRule['value']) => ({
  type: 'profile_property' as const,
  property,
  operator,
  ...(value === undefined ? {} : { value }),
});

/** The problems a schema reports, as the API would send them. */
function problems(schema: typeof segmentDefinitionSchema, body: unknown) {
  const res = schema.safeParse(body);
  if (res.success) return [];
  return toProblems(res.error, ['definition']);
}

describe('matchesRule: property operators', () => {
  test.each<[unknown, ValueRule, boolean]>([
    ['Gold', rule('equals', 'gold'), true],
    ['Gold', rule('equals', 'silver'), false],
    [42, rule('equals', 42), true],
    ['42', rule('equals', 42), true],
    [42, rule('equals', '42'), true],
    [true, rule('equals', true), true],
    ['true', rule('equals', true), true],
    [false, rule('equals', true), false],
    [undefined, rule('equals', 'x'), false],
    ['', rule('equals', 0), false],
    ['Gold', rule('not_equals', 'GOLD'), false],
    ['Gold', rule('not_equals', 'silver'), true],
    [undefined, rule('not_equals', 'silver'), true],
    ['Hello World', rule('contains', 'world'), true],
    ['Hello', rule('contains', 'xyz'), false],
    [['vip', 'Beta'], rule('contains', 'beta'), true],
    [['vip'], rule('contains', 'vi'), false],
    [42, rule('contains', '4'), false],
    ['Paris', rule('starts_with', 'pa'), true],
    ['Paris', rule('starts_with', 'is'), false],
    [undefined, rule('starts_with', 'a'), false],
    [10, rule('greater_than', 5), true],
    ['10', rule('greater_than', 5), true],
    [5, rule('greater_than', 5), false],
    ['', rule('greater_than', -1), false],
    ['abc', rule('greater_than', -1), false],
    [true, rule('greater_than', 0), false],
    [3, rule('less_than', 5), true],
    [7, rule('less_than', 5), false],
    [undefined, rule('less_than', 5), false],
    ['x', rule('is_set'), true],
    [0, rule('is_set'), true],
    [false, rule('is_set'), true],
    ['', rule('is_set'), false],
    [null, rule('is_set'), false],
    [undefined, rule('is_set'), false],
    [undefined, rule('is_not_set'), true],
    ['', rule('is_not_set'), true],
    ['x', rule('is_not_set'), false],
  ])('%j %j → %s', (actual, r, want) => {
    expect(matchesRule(actual, r, NOW)).toBe(want);
  });
});

describe('matchesRule: date operators', () => {
  test.each<[unknown, ValueRule, boolean]>([
    ['2026-01-01', rule('before', '2026-06-01'), true],
    ['2026-07-01T00:00:00Z', rule('before', '2026-06-01'), false],
    ['2026-07-01', rule('after', '2026-06-01T00:00:00Z'), true],
    ['2026-06-01', rule('after', '2026-06-01'), false],
    ['not a date', rule('before', '2030-01-01'), false],
    [undefined, rule('after', '2000-01-01'), false],
    // Unix seconds count as dates.
    [Date.parse('2026-01-01') / 1000, rule('before', '2026-06-01'), true],
    [daysAgo(3), rule('in_last_days', 7), true],
    [daysAgo(8), rule('in_last_days', 7), false],
    [daysAgo(-1), rule('in_last_days', 7), false],
    [daysAgo(8), rule('not_in_last_days', 7), true],
    [daysAgo(3), rule('not_in_last_days', 7), false],
    [undefined, rule('not_in_last_days', 7), false],
    [daysAgo(-3), rule('within_next_days', 7), true],
    [daysAgo(-8), rule('within_next_days', 7), false],
    [daysAgo(1), rule('within_next_days', 7), false],
  ])('%j %j → %s', (actual, r, want) => {
    expect(matchesRule(actual, r, NOW)).toBe(want);
  });

  test('dateValue reads ISO text and Unix seconds, nothing else', () => {
    expect(dateValue('2026-11-29T12:00:00.000Z')).toBe(NOW.getTime());
    expect(dateValue(NOW.getTime() / 1000)).toBe(NOW.getTime());
    expect(dateValue('')).toBeUndefined();
    expect(dateValue('soon')).toBeUndefined();
    expect(dateValue(true)).toBeUndefined();
    expect(dateValue(Number.NaN)).toBeUndefined();
  });
});

describe('propertyOf', () => {
  test('top-level names first, then dotted paths into objects', () => {
    const p = { 'a.b': 1, location: { city: 'Lyon' }, tags: ['x'] };
    expect(propertyOf(p, 'a.b')).toBe(1);
    expect(propertyOf(p, 'location.city')).toBe('Lyon');
    expect(propertyOf(p, 'location.zip')).toBeUndefined();
    expect(propertyOf(p, 'tags.0')).toBeUndefined();
    expect(propertyOf(p, 'missing')).toBeUndefined();
    expect(propertyOf(undefined, 'x')).toBeUndefined();
    expect(propertyOf({}, 'constructor')).toBeUndefined();
  });
});

describe('evaluateDefinition', () => {
  const def: Definition = {
    groups: [
      { conditions: [prop('vip', 'equals', true), prop('plan', 'equals', 'pro')] },
      { conditions: [{ type: 'list_membership', listId: 'lst_1', operator: 'in' }] },
    ],
  };

  test('AND between groups, OR within a group', () => {
    const inList = new Set(['lst_1']);
    expect(evaluateDefinition(def, facts({ profile: { vip: true }, lists: inList }))).toBe(true);
    expect(evaluateDefinition(def, facts({ profile: { plan: 'PRO' }, lists: inList }))).toBe(true);
    expect(evaluateDefinition(def, facts({ profile: { plan: 'free' }, lists: inList }))).toBe(false);
    expect(evaluateDefinition(def, facts({ profile: { vip: true } }))).toBe(false);
    expect(firstFailingGroup(def, facts({ profile: { vip: true } }))).toBe(2);
    expect(firstFailingGroup(def, facts({ lists: inList }))).toBe(1);
    expect(firstFailingGroup(def, facts({ profile: { vip: true }, lists: inList }))).toBeUndefined();
  });

  test('list membership: in and not in', () => {
    const notIn: Definition = {
      groups: [{ conditions: [{ type: 'list_membership', listId: 'l', operator: 'not_in' }] }],
    };
    expect(evaluateDefinition(notIn, facts())).toBe(true);
    expect(evaluateDefinition(notIn, facts({ lists: new Set(['l']) }))).toBe(false);
  });

  test('metric counts: at least, at most, zero, keyed by metric, window and where', () => {
    const base = { type: 'metric' as const, metric: 'Placed Order', where: [] };
    const atLeast = { ...base, operator: 'at_least' as const, count: 2, lastDays: 30 };
    const atMost = { ...base, operator: 'at_most' as const, count: 1 };
    const zero = { ...base, operator: 'zero' as const };
    const counts = (n: number, c: typeof atLeast | typeof atMost | typeof zero) =>
      facts({ metricCounts: new Map([[metricKey(c), n]]) });
    const one = (c: typeof atLeast | typeof atMost | typeof zero): Definition => ({
      groups: [{ conditions: [c] }],
    });
    expect(evaluateDefinition(one(atLeast), counts(2, atLeast))).toBe(true);
    expect(evaluateDefinition(one(atLeast), counts(1, atLeast))).toBe(false);
    // A count under another key (all time, not 30 days) is not this condition's count.
    expect(evaluateDefinition(one(atLeast), counts(5, atMost))).toBe(false);
    expect(evaluateDefinition(one(atMost), counts(1, atMost))).toBe(true);
    expect(evaluateDefinition(one(atMost), counts(2, atMost))).toBe(false);
    expect(evaluateDefinition(one(zero), facts())).toBe(true);
    expect(evaluateDefinition(one(zero), counts(1, zero))).toBe(false);
  });

  test('flow history conditions', () => {
    const recent: Definition = { groups: [{ conditions: [{ type: 'not_in_flow_recently', days: 7 }] }] };
    expect(evaluateDefinition(recent, facts())).toBe(true);
    expect(evaluateDefinition(recent, facts({ lastEnteredFlowAt: daysAgo(8) }))).toBe(true);
    expect(evaluateDefinition(recent, facts({ lastEnteredFlowAt: daysAgo(2) }))).toBe(false);
    const since: Definition = {
      groups: [{ conditions: [{ type: 'metric_zero_since_entry', metric: 'Unsubscribed' }] }],
    };
    expect(evaluateDefinition(since, facts())).toBe(true);
    expect(evaluateDefinition(since, facts({ metricsSinceEntry: new Map([['Unsubscribed', 1]]) }))).toBe(
      false,
    );
  });

  test('event property conditions read the event', () => {
    const def2: Definition = {
      groups: [
        {
          conditions: [
            { type: 'event_property', property: 'items.count', operator: 'greater_than', value: 2 },
          ],
        },
      ],
    };
    expect(evaluateDefinition(def2, facts({ event: { items: { count: 3 } } }))).toBe(true);
    expect(evaluateDefinition(def2, facts())).toBe(false);
  });
});

describe('conditionNeeds', () => {
  test('lists, distinct metric windows, flow history', () => {
    const m = {
      type: 'metric' as const,
      metric: 'Viewed',
      operator: 'at_least' as const,
      count: 1,
      where: [],
    };
    const needs = conditionNeeds({
      groups: [
        { conditions: [m, { ...m, count: 3 }, { ...m, lastDays: 7 }] },
        { conditions: [{ type: 'list_membership', listId: 'a', operator: 'in' }, prop('x', 'is_set')] },
        {
          conditions: [
            { type: 'not_in_flow_recently', days: 3 },
            { type: 'metric_zero_since_entry', metric: 'Bought' },
          ],
        },
      ],
    });
    expect([...needs.lists]).toEqual(['a']);
    // The same metric and window twice is one count.
    expect(needs.metrics.map((n) => [n.metric, n.lastDays])).toEqual([
      ['Viewed', undefined],
      ['Viewed', 7],
    ]);
    expect(needs.flowHistory).toBe(true);
    expect([...needs.metricsSinceEntry]).toEqual(['Bought']);
  });
});

describe('schemas', () => {
  const ok = (conditions: unknown[]) => ({ groups: [{ conditions }] });

  test('accepts every segment condition type', () => {
    const res = segmentDefinitionSchema.safeParse(
      ok([
        prop('vip', 'equals', true),
        prop('signup', 'in_last_days', 30),
        prop('birthday', 'before', '2000-01-01'),
        prop('renewal', 'after', '2026-01-01T00:00:00+02:00'),
        prop('email', 'is_set'),
        { type: 'list_membership', listId: 'lst_1', operator: 'not_in' },
        { type: 'metric', metric: 'Placed Order', operator: 'zero' },
        {
          type: 'metric',
          metric: 'Placed Order',
          operator: 'at_least',
          count: 2,
          lastDays: 30,
          where: [{ property: 'total', operator: 'greater_than', value: 50 }],
        },
      ]),
    );
    expect(res.success).toBe(true);
    // `where` defaults to none, so equal conditions share a metric key.
    if (res.success) expect(res.data.groups[0]?.conditions[6]).toMatchObject({ where: [] });
  });

  test('a wrong condition type names the condition and the allowed types', () => {
    const p = problems(
      segmentDefinitionSchema,
      ok([{ type: 'event_property', property: 'x', operator: 'is_set' }]),
    );
    expect(p).toEqual([
      {
        path: 'definition.groups.0.conditions.0.type',
        message: 'type must be one of profile_property, list_membership, metric',
      },
    ]);
  });

  test.each<[string, unknown, string, string]>([
    ['an unknown operator', prop('x', 'bigger' as never, 1), 'operator', 'must be one of'],
    ['a value missing', prop('x', 'equals'), 'value', 'is required for equals'],
    ['a value given to is_set', { ...prop('x', 'is_set'), value: 1 }, 'value', 'must be omitted for is_set'],
    ['a number for contains', prop('x', 'contains', 3), 'value', 'must be a string for contains'],
    ['text for greater_than', prop('x', 'greater_than', '3'), 'value', 'must be a number for greater_than'],
    ['a non-date for before', prop('x', 'before', 'yesterday'), 'value', 'must be a date'],
    ['a fraction of days', prop('x', 'in_last_days', 1.5), 'value', 'must be a whole number of days'],
    ['zero days', prop('x', 'in_last_days', 0), 'value', 'must be at least 1'],
    ['an empty property', prop(' ', 'is_set'), 'property', 'must not be empty'],
    ['an unknown field', { ...prop('x', 'is_set'), extra: 1 }, 'extra', 'is not a known field'],
    [
      'a list operator',
      { type: 'list_membership', listId: 'l', operator: 'maybe' },
      'operator',
      'must be "in" or "not_in"',
    ],
    [
      'a metric count missing',
      { type: 'metric', metric: 'M', operator: 'at_least' },
      'count',
      'count is required',
    ],
  ])('%s is refused naming the field', (_label, condition, field, message) => {
    const p = problems(segmentDefinitionSchema, ok([condition]));
    expect(p).toContainEqual({
      path: `definition.groups.0.conditions.0.${field}`,
      message: expect.stringContaining(message) as string,
    });
  });

  test('at most 100 conditions in all, counted across groups', () => {
    const half = Array.from({ length: MAX_CONDITIONS / 2 }, (_, i) => prop(`p${i}`, 'is_set'));
    expect(
      segmentDefinitionSchema.safeParse({ groups: [{ conditions: half }, { conditions: half }] }).success,
    ).toBe(true);
    const p = problems(segmentDefinitionSchema, {
      groups: [{ conditions: half }, { conditions: [...half, prop('x', 'is_set')] }],
    });
    expect(p).toEqual([{ path: 'definition', message: 'a segment may have at most 100 conditions' }]);
  });

  test('empty definitions are refused', () => {
    expect(problems(segmentDefinitionSchema, { groups: [] })).toEqual([
      { path: 'definition.groups', message: 'needs at least one group' },
    ]);
    expect(problems(segmentDefinitionSchema, { groups: [{ conditions: [] }] })).toEqual([
      { path: 'definition.groups.0.conditions', message: 'a group needs a condition' },
    ]);
  });

  test('flow filters add the flow history conditions; trigger filters take event properties only', () => {
    const history = ok([
      { type: 'not_in_flow_recently', days: 30 },
      { type: 'metric_zero_since_entry', metric: 'Placed Order' },
    ]);
    expect(flowFilterSchema.safeParse(history).success).toBe(true);
    expect(segmentDefinitionSchema.safeParse(history).success).toBe(false);
    expect(
      triggerFilterSchema.safeParse(
        ok([{ type: 'event_property', property: 'total', operator: 'greater_than', value: 1 }]),
      ).success,
    ).toBe(true);
    expect(triggerFilterSchema.safeParse(ok([prop('x', 'is_set')])).success).toBe(false);
  });
});
