import type { EligibilityJudge } from '../activities';
import type { Db } from '../db';
import type { FilterDefinition } from '../flows/model';
import type { Eligibility } from '../shared/eligibility';
import { SKIP_REASONS } from '../shared/eligibility';
import { buildContext } from '../templates/context';
import type { AudienceFacts, ConditionNeeds, Definition, EventPropertyCondition } from './conditions';
import { conditionNeeds, evaluateDefinition, firstFailingGroup, matchesRule } from './conditions';

/**
 * Who may still receive a flow's webhooks: flow filters at entry and before every webhook step,
 * trigger filters once at entry, and the membership of the list or segment that triggered the flow.
 */

/** What the facts are loaded for: `runStartedAt` bounds "since starting this flow" and "before this run". */
export interface FactsContext {
  now: Date;
  event?: Record<string, unknown>;
  flowId?: string;
  runStartedAt?: string;
}

/**
 * Loads the facts a definition needs; undefined when the profile does not exist (deleted).
 * At merge the segments engineer's `loadFacts(db, profileId, needs, ctx)` (src/audience/facts.ts)
 * takes the place of {@link dbFactsSource}: `{ load: (id, needs, ctx) => loadFacts(db, id, needs, ctx) }`.
 */
export interface FactsSource {
  load(profileId: string, needs: ConditionNeeds, ctx: FactsContext): Promise<AudienceFacts | undefined>;
}

/** Is the profile still in the list or segment that triggered the flow? */
export interface MembershipSource {
  /** A subscribed (not pending) member. */
  inList(listId: string, profileId: string): Promise<boolean>;
  inSegment(segmentId: string, profileId: string): Promise<boolean>;
}

/**
 * A flow's trigger as eligibility reads it. Typed loosely: the list and segment triggers
 * (`{ type: 'list', listId }`, `{ type: 'segment', segmentId }`) come with the lists work.
 */
export interface TriggerLike {
  type: string;
  listId?: string;
  segmentId?: string;
}

export const NO_NEEDS: ConditionNeeds = {
  lists: new Set(),
  metrics: [],
  flowHistory: false,
  metricsSinceEntry: new Set(),
};

/** Filters as stored with a flow version were checked against the audience schemas at save. */
const asDefinition = (f: FilterDefinition | undefined) => f as Definition | undefined;

/**
 * The decision, pure: the profile exists, is still in the triggering list or segment, and passes
 * the flow filters — in that order, so the reason a user reads is the most basic one.
 */
export function decideEligibility(args: {
  trigger: TriggerLike;
  flowFilters: Definition | undefined;
  facts: AudienceFacts | undefined;
  /** For list and segment flows: still a member (undefined for metric flows). */
  inTriggerAudience?: boolean | undefined;
}): Eligibility {
  if (!args.facts) return { eligible: false, reason: SKIP_REASONS.profileDeleted };
  if (args.inTriggerAudience === false) {
    return {
      eligible: false,
      reason: args.trigger.type === 'segment' ? SKIP_REASONS.notInSegment : SKIP_REASONS.notInList,
    };
  }
  if (args.flowFilters) {
    const group = firstFailingGroup(args.flowFilters, args.facts);
    if (group !== undefined) {
      const detail = args.flowFilters.groups.length > 1 ? `group ${group} does not hold` : undefined;
      return {
        eligible: false,
        reason: SKIP_REASONS.failsFlowFilters,
        ...(detail !== undefined ? { detail } : {}),
      };
    }
  }
  return { eligible: true };
}

/**
 * Flow filters at entry. Usable inside a transaction: give it a {@link FactsSource} built on the
 * transaction (`dbFactsSource(trx)`). No filters: passes. A missing profile does not pass.
 */
export async function passesFlowFilters(
  facts: FactsSource,
  flowFilters: FilterDefinition | undefined,
  profileId: string,
  ctx: FactsContext,
): Promise<boolean> {
  const def = asDefinition(flowFilters);
  if (!def) return true;
  const loaded = await facts.load(profileId, conditionNeeds(def), ctx);
  return loaded !== undefined && evaluateDefinition(def, loaded);
}

/** Trigger filters: conditions on the triggering event's properties, checked once at entry. */
export function passesTriggerFilters(
  triggerFilters: FilterDefinition | undefined,
  event: Record<string, unknown>,
  now: Date,
): boolean {
  const def = triggerFilters as Definition<EventPropertyCondition> | undefined;
  if (!def) return true;
  return evaluateDefinition(def, {
    now,
    profile: {},
    event,
    lists: new Set(),
    metricCounts: new Map(),
  });
}

/**
 * The facts that exist before the profiles, lists and segments work is merged: the profile from
 * `profiles.data` (flattened as templates see it), list membership from `list_members`, metric
 * counts from `events`, and this flow's history from `runs` joined with their events. The lead
 * swaps in `loadFacts` (src/audience/facts.ts) at merge, and flow history moves to `flow_entries`.
 */
export function dbFactsSource(db: Db): FactsSource {
  return {
    async load(profileId, needs, ctx) {
      const row = await db
        .selectFrom('profiles')
        .select('data')
        .where('id', '=', profileId)
        .executeTakeFirst();
      if (!row) return undefined;
      const data = JSON.parse(row.data) as Record<string, unknown>;
      const facts: AudienceFacts = {
        now: ctx.now,
        profile: buildContext(data, {}, profileId).person,
        lists: new Set(),
        metricCounts: new Map(),
      };
      if (ctx.event) facts.event = ctx.event;
      if (needs.lists.size > 0) {
        const rows = await db
          .selectFrom('list_members')
          .select('list_id')
          .where('profile_id', '=', profileId)
          .where('status', '=', 'subscribed')
          .where('list_id', 'in', [...needs.lists])
          .execute();
        facts.lists = new Set(rows.map((r) => r.list_id));
      }
      const counts = new Map<string, number>();
      for (const need of needs.metrics) {
        let q = db
          .selectFrom('events')
          .select('properties')
          .where('profile_id', '=', profileId)
          .where('metric', '=', need.metric);
        if (need.lastDays !== undefined) {
          q = q.where('time', '>=', new Date(ctx.now.getTime() - need.lastDays * 86_400_000).toISOString());
        }
        const rows = await q.execute();
        const n = rows.filter((r) => {
          if (need.where.length === 0) return true;
          const props = JSON.parse(r.properties) as Record<string, unknown>;
          return need.where.every((rule) => matchesRule(props[rule.property], rule, ctx.now));
        }).length;
        counts.set(need.key, n);
      }
      facts.metricCounts = counts;
      if (needs.flowHistory && ctx.flowId !== undefined) {
        // Until flow_entries: this flow's earlier runs for this profile (metric flows).
        const last = await db
          .selectFrom('runs as r')
          .innerJoin('events as e', 'e.id', 'r.event_id')
          .select('r.created_at')
          .where('r.flow_id', '=', ctx.flowId)
          .where('e.profile_id', '=', profileId)
          .where('r.created_at', '<', ctx.runStartedAt ?? ctx.now.toISOString())
          .orderBy('r.created_at', 'desc')
          .limit(1)
          .executeTakeFirst();
        facts.lastEnteredFlowAt = last?.created_at;
      }
      if (needs.metricsSinceEntry.size > 0) {
        const since = new Map<string, number>();
        for (const metric of needs.metricsSinceEntry) {
          if (ctx.runStartedAt === undefined) {
            since.set(metric, 0); // at entry: nothing has happened since
            continue;
          }
          const r = await db
            .selectFrom('events')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('profile_id', '=', profileId)
            .where('metric', '=', metric)
            .where('time', '>', ctx.runStartedAt)
            .executeTakeFirst();
          since.set(metric, Number(r?.n ?? 0));
        }
        facts.metricsSinceEntry = since;
      }
      return facts;
    },
  };
}

/** Membership from the lists' and segments' tables (created by their migrations). */
export function dbMembership(db: Db): MembershipSource {
  return {
    async inList(listId, profileId) {
      const row = await db
        .selectFrom('list_members')
        .select('profile_id')
        .where('list_id', '=', listId)
        .where('profile_id', '=', profileId)
        .where('status', '=', 'subscribed')
        .executeTakeFirst();
      return row !== undefined;
    },
    async inSegment(segmentId, profileId) {
      const row = await db
        .selectFrom('segment_members')
        .select('profile_id')
        .where('segment_id', '=', segmentId)
        .where('profile_id', '=', profileId)
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}

/** Still a member of what triggered the flow; undefined for triggers without an audience (metric). */
export async function inTriggerAudience(
  trigger: TriggerLike,
  profileId: string,
  membership: MembershipSource,
): Promise<boolean | undefined> {
  if (trigger.type === 'list' && trigger.listId !== undefined)
    return membership.inList(trigger.listId, profileId);
  if (trigger.type === 'segment' && trigger.segmentId !== undefined) {
    return membership.inSegment(trigger.segmentId, profileId);
  }
  return undefined;
}

/**
 * The judge the worker gives the `checkEligibility` activity: loads the facts the run's flow
 * version needs and decides. The run's start is read from `runs` (metric flows; list and segment
 * runs will read their `flow_entries` row at merge).
 */
export function createEligibilityJudge(deps: {
  db: Db;
  facts?: FactsSource;
  membership?: MembershipSource;
  now?: () => Date;
}): EligibilityJudge {
  const facts = deps.facts ?? dbFactsSource(deps.db);
  const membership = deps.membership ?? dbMembership(deps.db);
  const now = deps.now ?? (() => new Date());
  return {
    async judge(run, definition) {
      const filters = asDefinition(definition.flowFilters);
      const trigger = definition.trigger as TriggerLike;
      const needs = filters ? conditionNeeds(filters) : NO_NEEDS;
      const started = await deps.db
        .selectFrom('runs')
        .select('created_at')
        .where('id', '=', run.runId)
        .executeTakeFirst();
      const ctx: FactsContext = { now: now(), flowId: run.flowId };
      if (started) ctx.runStartedAt = started.created_at;
      const loaded = await facts.load(run.profileId, needs, ctx);
      if (!loaded) return decideEligibility({ trigger, flowFilters: filters, facts: undefined });
      return decideEligibility({
        trigger,
        flowFilters: filters,
        facts: loaded,
        inTriggerAudience: await inTriggerAudience(trigger, run.profileId, membership),
      });
    },
  };
}
