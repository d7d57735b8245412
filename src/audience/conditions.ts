import { z } from 'zod';

/**
 * Audience conditions, declared once: segment definitions, flow filters and trigger filters are
 * all `{ groups: [ { conditions: [...] } ] }` — AND between groups, OR between the conditions of a
 * group. Evaluation is two-step so that it stays pure and cheap: {@link conditionNeeds} says which
 * facts a definition reads (list memberships, metric counts, flow history), the caller loads just
 * those into {@link AudienceFacts}, and {@link evaluateDefinition} decides synchronously.
 */

export const MAX_CONDITIONS = 100;
const DAY_MS = 86_400_000;

export const PROPERTY_OPERATORS = [
  'equals',
  'not_equals',
  'contains',
  'starts_with',
  'greater_than',
  'less_than',
  'is_set',
  'is_not_set',
] as const;
export const DATE_OPERATORS = [
  'before',
  'after',
  'in_last_days',
  'not_in_last_days',
  'within_next_days',
] as const;
export const METRIC_OPERATORS = ['at_least', 'at_most', 'zero'] as const;

const scalar = z.union([z.string().max(2000), z.number(), z.boolean()]);
const propertyName = z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200);
const days = z
  .number({ error: 'must be a number of days' })
  .int('must be a whole number of days')
  .min(1, 'must be at least 1')
  .max(3660, 'must be at most 3660');

/** A date or a date-time: one message for both (a union would answer zod's generic "Invalid input"). */
const DATE_MESSAGE = 'must be a date, YYYY-MM-DD, or an ISO-8601 date-time';
const dateText = z
  .string({ error: DATE_MESSAGE })
  .refine((v) => z.iso.date().safeParse(v).success || z.iso.datetime({ offset: true }).safeParse(v).success, {
    message: DATE_MESSAGE,
  });

export const RULE_OPERATORS = [...PROPERTY_OPERATORS, ...DATE_OPERATORS] as const;
export type RuleOperator = (typeof RULE_OPERATORS)[number];

/** What `value` must be for each operator (checked after the shape, with a message per rule). */
const VALUE_OF: Record<RuleOperator, z.ZodType | undefined> = {
  equals: scalar,
  not_equals: scalar,
  contains: z.string({ error: 'must be a string' }).max(2000),
  starts_with: z.string({ error: 'must be a string' }).max(2000),
  greater_than: z.number({ error: 'must be a number' }),
  less_than: z.number({ error: 'must be a number' }),
  is_set: undefined,
  is_not_set: undefined,
  before: dateText,
  after: dateText,
  in_last_days: days,
  not_in_last_days: days,
  within_next_days: days,
};

/** A rule on one property: `operator` and, except for is_set / is_not_set, a `value` of its kind. */
export interface ValueRule {
  operator: RuleOperator;
  value?: string | number | boolean | undefined;
}

function checkRuleValue(rule: ValueRule, ctx: z.RefinementCtx): void {
  const want = VALUE_OF[rule.operator];
  if (want === undefined) {
    if (rule.value !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `must be omitted for ${rule.operator}` });
    }
    return;
  }
  const checked = want.safeParse(rule.value);
  if (!checked.success) {
    const message =
      rule.value === undefined ? 'is required' : (checked.error.issues[0]?.message ?? 'is not valid');
    ctx.addIssue({ code: 'custom', path: ['value'], message: `${message} for ${rule.operator}` });
  }
}

const ruleBase = z.strictObject({
  property: propertyName,
  operator: z.enum(RULE_OPERATORS, { error: `must be one of ${RULE_OPERATORS.join(', ')}` }),
  value: scalar.optional(),
});

export const profilePropertyCondition = ruleBase
  .extend({ type: z.literal('profile_property') })
  .superRefine(checkRuleValue);
export const eventPropertyCondition = ruleBase
  .extend({ type: z.literal('event_property') })
  .superRefine(checkRuleValue);
const whereRule = ruleBase.superRefine(checkRuleValue);

export const listMembershipCondition = z.strictObject({
  type: z.literal('list_membership'),
  listId: z.string({ error: 'is required' }).min(1).max(100),
  operator: z.enum(['in', 'not_in'], { error: 'must be "in" or "not_in"' }),
});

/** "Has done X at least / at most N times / zero times, over all time or the last N days". */
export const metricCondition = z
  .strictObject({
    type: z.literal('metric'),
    metric: propertyName,
    operator: z.enum(METRIC_OPERATORS, { error: `must be one of ${METRIC_OPERATORS.join(', ')}` }),
    count: z.number().int().min(0).max(1_000_000).optional(),
    /** Omitted: over all time. */
    lastDays: days.optional(),
    /** Conditions on the event's properties; every one must hold for an event to count. */
    where: z.array(whereRule).max(10).default([]),
  })
  .refine((c) => c.operator === 'zero' || c.count !== undefined, {
    message: 'count is required for at_least and at_most',
    path: ['count'],
  });

/** Flow filters only: "has not been in this flow in the last N days". */
export const notInFlowCondition = z.strictObject({ type: z.literal('not_in_flow_recently'), days });
/** Flow filters only: "has done metric X zero times since starting this flow". */
export const metricSinceEntryCondition = z.strictObject({
  type: z.literal('metric_zero_since_entry'),
  metric: propertyName,
});

export type ProfilePropertyCondition = z.infer<typeof profilePropertyCondition>;
export type EventPropertyCondition = z.infer<typeof eventPropertyCondition>;
export type ListMembershipCondition = z.infer<typeof listMembershipCondition>;
export type MetricCondition = z.infer<typeof metricCondition>;
export type NotInFlowCondition = z.infer<typeof notInFlowCondition>;
export type MetricSinceEntryCondition = z.infer<typeof metricSinceEntryCondition>;
export type AudienceCondition =
  | ProfilePropertyCondition
  | EventPropertyCondition
  | ListMembershipCondition
  | MetricCondition
  | NotInFlowCondition
  | MetricSinceEntryCondition;

export interface Definition<C extends AudienceCondition = AudienceCondition> {
  groups: { conditions: C[] }[];
}

function definitionSchema<C extends AudienceCondition>(condition: z.ZodType<C>, label: string) {
  const schema: z.ZodType<Definition<C>> = z
    .strictObject({
      groups: z
        .array(z.strictObject({ conditions: z.array(condition).min(1, 'a group needs a condition') }))
        .min(1, 'needs at least one group'),
    })
    .refine((d) => d.groups.reduce((n, g) => n + g.conditions.length, 0) <= MAX_CONDITIONS, {
      message: `${label} may have at most ${MAX_CONDITIONS} conditions`,
    });
  return schema;
}

const typeError = (types: string[]) => ({ error: `type must be one of ${types.join(', ')}` });
const SEGMENT_TYPES = ['profile_property', 'list_membership', 'metric'];

export type SegmentCondition = ProfilePropertyCondition | ListMembershipCondition | MetricCondition;
export type FlowFilterCondition = SegmentCondition | NotInFlowCondition | MetricSinceEntryCondition;

const segmentCondition: z.ZodType<SegmentCondition> = z.discriminatedUnion(
  'type',
  [profilePropertyCondition, listMembershipCondition, metricCondition],
  typeError(SEGMENT_TYPES),
);
const flowFilterCondition: z.ZodType<FlowFilterCondition> = z.discriminatedUnion(
  'type',
  [
    profilePropertyCondition,
    listMembershipCondition,
    metricCondition,
    notInFlowCondition,
    metricSinceEntryCondition,
  ],
  typeError([...SEGMENT_TYPES, 'not_in_flow_recently', 'metric_zero_since_entry']),
);
const triggerFilterCondition: z.ZodType<EventPropertyCondition> = z.discriminatedUnion(
  'type',
  [eventPropertyCondition],
  typeError(['event_property']),
);

/** A segment: conditions on the profile, its lists and what it has done. */
export const segmentDefinitionSchema = definitionSchema(segmentCondition, 'a segment');
/** Flow filters: the segment conditions plus the two about this flow's own history. */
export const flowFilterSchema = definitionSchema(flowFilterCondition, 'flow filters');
/** Trigger filters (metric flows): conditions on the triggering event's properties. */
export const triggerFilterSchema = definitionSchema(triggerFilterCondition, 'trigger filters');

/** A metric count a definition needs: the key under which the caller stores the loaded count. */
export interface MetricNeed {
  key: string;
  metric: string;
  lastDays?: number | undefined;
  where: MetricCondition['where'];
}

/** What the caller must load before {@link evaluateDefinition}. */
export interface ConditionNeeds {
  lists: Set<string>;
  metrics: MetricNeed[];
  flowHistory: boolean;
  metricsSinceEntry: Set<string>;
}

export function metricKey(c: Pick<MetricCondition, 'metric' | 'lastDays' | 'where'>): string {
  return JSON.stringify([c.metric, c.lastDays ?? null, c.where]);
}

export function conditionNeeds(def: Definition): ConditionNeeds {
  const needs: ConditionNeeds = {
    lists: new Set(),
    metrics: [],
    flowHistory: false,
    metricsSinceEntry: new Set(),
  };
  const seen = new Set<string>();
  for (const g of def.groups) {
    for (const c of g.conditions) {
      if (c.type === 'list_membership') needs.lists.add(c.listId);
      else if (c.type === 'metric') {
        const key = metricKey(c);
        if (!seen.has(key)) {
          seen.add(key);
          needs.metrics.push({ key, metric: c.metric, lastDays: c.lastDays, where: c.where });
        }
      } else if (c.type === 'not_in_flow_recently') needs.flowHistory = true;
      else if (c.type === 'metric_zero_since_entry') needs.metricsSinceEntry.add(c.metric);
    }
  }
  return needs;
}

/** The facts a definition is decided on, loaded by the caller as {@link conditionNeeds} says. */
export interface AudienceFacts {
  now: Date;
  /** The profile: standard fields and custom properties at the top level (standard fields win). */
  profile: Record<string, unknown>;
  /** For trigger filters: the triggering event's properties. */
  event?: Record<string, unknown>;
  /** Ids of the lists the profile is a (confirmed) member of, among those needed. */
  lists: ReadonlySet<string>;
  /** Counts by {@link metricKey}. */
  metricCounts: ReadonlyMap<string, number>;
  /** When the profile last entered this flow before the run being decided (ISO), if ever. */
  lastEnteredFlowAt?: string | undefined;
  /** Counts of each metric since the run being decided started. */
  metricsSinceEntry?: ReadonlyMap<string, number>;
}

/** A date-like value as milliseconds: ISO strings, or Unix seconds; undefined when not a date. */
export function dateValue(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v * 1000;
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}

const isSet = (v: unknown) => v !== undefined && v !== null && v !== '';

/**
 * A property by name: the top-level key first (custom properties may contain dots), else a dotted
 * path into nested objects (`location.city`).
 */
export function propertyOf(obj: Record<string, unknown> | undefined, name: string): unknown {
  if (obj === undefined) return undefined;
  if (Object.prototype.hasOwnProperty.call(obj, name)) return obj[name];
  if (!name.includes('.')) return undefined;
  let at: unknown = obj;
  for (const part of name.split('.')) {
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);

/**
 * Equality as users mean it: strings case-insensitively; a number or boolean also equals its
 * text form, since imported properties often arrive as text ("42", "true").
 */
function looselyEqual(actual: unknown, want: unknown): boolean {
  if (lower(actual) === lower(want)) return true;
  if (typeof actual === 'string' && actual.trim() !== '') {
    if (typeof want === 'number') return Number(actual) === want;
    if (typeof want === 'boolean') return actual.trim().toLowerCase() === String(want);
  }
  if (typeof want === 'string' && want.trim() !== '') {
    if (typeof actual === 'number') return Number(want) === actual;
    if (typeof actual === 'boolean') return want.trim().toLowerCase() === String(actual);
  }
  return false;
}

/** Does `actual` satisfy the rule? Strings compare case-insensitively, as users expect. */
export function matchesRule(actual: unknown, rule: ValueRule, now: Date): boolean {
  switch (rule.operator) {
    case 'equals':
      return looselyEqual(actual, rule.value);
    case 'not_equals':
      return !looselyEqual(actual, rule.value);
    case 'contains': {
      const want = String(rule.value).toLowerCase();
      if (Array.isArray(actual)) return actual.some((a) => lower(a) === want);
      return typeof actual === 'string' && actual.toLowerCase().includes(want);
    }
    case 'starts_with':
      return typeof actual === 'string' && actual.toLowerCase().startsWith(String(rule.value).toLowerCase());
    case 'greater_than':
    case 'less_than': {
      const n = typeof actual === 'number' ? actual : typeof actual === 'string' ? Number(actual) : NaN;
      if (typeof actual === 'string' && actual.trim() === '') return false;
      if (Number.isNaN(n)) return false;
      const bound = Number(rule.value);
      return rule.operator === 'greater_than' ? n > bound : n < bound;
    }
    case 'is_set':
      return isSet(actual);
    case 'is_not_set':
      return !isSet(actual);
    case 'before':
    case 'after': {
      const at = dateValue(actual);
      const bound = Date.parse(String(rule.value));
      if (at === undefined) return false;
      return rule.operator === 'before' ? at < bound : at > bound;
    }
    case 'in_last_days':
    case 'not_in_last_days':
    case 'within_next_days': {
      const at = dateValue(actual);
      if (at === undefined) return false;
      const t = now.getTime();
      const span = Number(rule.value) * DAY_MS;
      if (rule.operator === 'within_next_days') return at >= t && at <= t + span;
      const recent = at <= t && at >= t - span;
      return rule.operator === 'in_last_days' ? recent : !recent;
    }
  }
}

function holds(c: AudienceCondition, facts: AudienceFacts): boolean {
  switch (c.type) {
    case 'profile_property':
      return matchesRule(propertyOf(facts.profile, c.property), c, facts.now);
    case 'event_property':
      return matchesRule(propertyOf(facts.event, c.property), c, facts.now);
    case 'list_membership':
      return facts.lists.has(c.listId) === (c.operator === 'in');
    case 'metric': {
      const n = facts.metricCounts.get(metricKey(c)) ?? 0;
      if (c.operator === 'zero') return n === 0;
      return c.operator === 'at_least' ? n >= (c.count ?? 0) : n <= (c.count ?? 0);
    }
    case 'not_in_flow_recently': {
      const last = facts.lastEnteredFlowAt === undefined ? undefined : Date.parse(facts.lastEnteredFlowAt);
      return last === undefined || last < facts.now.getTime() - c.days * DAY_MS;
    }
    case 'metric_zero_since_entry':
      return (facts.metricsSinceEntry?.get(c.metric) ?? 0) === 0;
  }
}

/** AND between groups, OR within a group. */
export function evaluateDefinition(def: Definition, facts: AudienceFacts): boolean {
  return def.groups.every((g) => g.conditions.some((c) => holds(c, facts)));
}

/** The first group that fails, for a reason a user can read ("fails flow filters: group 2"). */
export function firstFailingGroup(def: Definition, facts: AudienceFacts): number | undefined {
  const i = def.groups.findIndex((g) => !g.conditions.some((c) => holds(c, facts)));
  return i === -1 ? undefined : i + 1;
}
