import type { EligibilityJudge } from '../activities';
import type { Kysely } from 'kysely';
import type { Database, Db } from '../db';
import { DateStore } from '../db/date-store';
import { ProfileStore } from '../db/profile-store';
import type { FilterDefinition, FlowDefinition } from '../flows/model';
import { occurrenceStands } from './date-sweep';
import type { Eligibility } from '../shared/eligibility';
import { SKIP_REASONS } from '../shared/eligibility';
import type { AudienceFacts, ConditionNeeds, Definition, EventPropertyCondition } from './conditions';
import { conditionNeeds, evaluateDefinition, firstFailingGroup } from './conditions';
import type { FactsOptions } from './facts';
import { loadFacts } from './facts';

/**
 * Who may still receive a flow's webhooks: flow filters at entry and before every webhook step,
 * trigger filters once at entry, and the membership of the list or segment that triggered the flow.
 */

/** What the facts are loaded for: `runStartedAt` bounds "since starting this flow" and "before this run". */
export type FactsContext = FactsOptions;

/** Loads the facts a definition needs; undefined when the profile does not exist (deleted). */
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
  /** For date flows: the profile's date no longer gives the occurrence the run was started for. */
  dateChanged?: boolean | undefined;
}): Eligibility {
  if (!args.facts) return { eligible: false, reason: SKIP_REASONS.profileDeleted };
  if (args.dateChanged === true) return { eligible: false, reason: SKIP_REASONS.dateChanged };
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

/** The facts in the database (or a transaction's view of it), as {@link loadFacts} reads them. */
export function dbFactsSource(db: Kysely<Database>): FactsSource {
  return { load: (profileId, needs, ctx) => loadFacts(db, profileId, needs, ctx) };
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

/** For a date-flow run: has the profile's date moved off the occurrence the run was started for? */
async function dateChanged(
  db: Db,
  trigger: FlowDefinition['trigger'],
  run: { runId: string; profileId: string },
  defaultZone: string,
): Promise<boolean | undefined> {
  if (trigger.type !== 'date') return undefined;
  const stored = await new DateStore(db).run(run.runId);
  if (!stored) return undefined;
  const profile = await new ProfileStore(db).get(run.profileId);
  if (!profile) return undefined;
  return !occurrenceStands(trigger, profile.data, defaultZone, stored);
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
  /** The zone of profiles without one (date flows). @default "UTC" */
  defaultTimezone?: string;
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
        dateChanged: await dateChanged(deps.db, definition.trigger, run, deps.defaultTimezone ?? 'UTC'),
      });
    },
  };
}
