import type { Kysely } from 'kysely';
import type { Database } from '../db';
import { buildContext } from '../templates/context';
import type { AudienceFacts, ConditionNeeds, MetricNeed } from './conditions';
import { matchesRule, propertyOf } from './conditions';

const DAY_MS = 86_400_000;

export interface FactsOptions {
  now: Date;
  /** For trigger filters: the triggering event's properties. */
  event?: Record<string, unknown>;
  /** For flow filters: the flow whose history `not_in_flow_recently` reads. */
  flowId?: string;
  /** When the run being decided started (ISO): history before it, metrics since it. */
  runStartedAt?: string;
}

/** The profile as conditions see it: standard fields and custom properties at the top level. */
export function flattenProfile(data: string, profileId: string): Record<string, unknown> {
  const parsed = JSON.parse(data) as unknown;
  const profile = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  return buildContext(profile, {}, profileId).person;
}

/**
 * Loads just the facts `needs` asks for about one profile; undefined when the profile does not
 * exist. Takes a Kysely or a transaction, so a caller can decide and record in one transaction.
 */
export async function loadFacts(
  db: Kysely<Database>,
  profileId: string,
  needs: ConditionNeeds,
  options: FactsOptions,
): Promise<AudienceFacts | undefined> {
  const row = await db.selectFrom('profiles').select('data').where('id', '=', profileId).executeTakeFirst();
  if (!row) return undefined;
  const facts: AudienceFacts = {
    now: options.now,
    profile: flattenProfile(row.data, profileId),
    lists: await confirmedLists(db, profileId, needs.lists),
    metricCounts: await metricCounts(db, profileId, needs.metrics, options.now),
  };
  if (options.event !== undefined) facts.event = options.event;
  if (options.flowId !== undefined) {
    if (needs.flowHistory) {
      let q = db
        .selectFrom('flow_entries')
        .select((eb) => eb.fn.max('entered_at').as('last'))
        .where('flow_id', '=', options.flowId)
        .where('profile_id', '=', profileId);
      // The run being decided has its own entry: only earlier ones count.
      if (options.runStartedAt !== undefined) q = q.where('entered_at', '<', options.runStartedAt);
      const last = await q.executeTakeFirst();
      facts.lastEnteredFlowAt = last?.last ?? undefined;
    }
    // At entry (no run yet) nothing has happened since starting the flow.
    if (needs.metricsSinceEntry.size > 0 && options.runStartedAt !== undefined) {
      facts.metricsSinceEntry = await countsSince(
        db,
        profileId,
        needs.metricsSinceEntry,
        options.runStartedAt,
      );
    }
  }
  return facts;
}

async function confirmedLists(
  db: Kysely<Database>,
  profileId: string,
  wanted: ReadonlySet<string>,
): Promise<Set<string>> {
  if (wanted.size === 0) return new Set();
  const rows = await db
    .selectFrom('list_members')
    .select('list_id')
    .where('profile_id', '=', profileId)
    .where('status', '=', 'subscribed')
    .where('list_id', 'in', [...wanted])
    .execute();
  return new Set(rows.map((r) => r.list_id));
}

/**
 * One count per need. Without `where`, SQL counts over the (profile_id, metric, time) index; with
 * it, the window's properties are read and the rules checked here, with the same `matchesRule`
 * the rest of the conditions use (so "42" equals 42 the same way everywhere).
 */
async function metricCounts(
  db: Kysely<Database>,
  profileId: string,
  needs: readonly MetricNeed[],
  now: Date,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const need of needs) {
    let q = db.selectFrom('events').where('profile_id', '=', profileId).where('metric', '=', need.metric);
    if (need.lastDays !== undefined) {
      q = q.where('time', '>=', new Date(now.getTime() - need.lastDays * DAY_MS).toISOString());
    }
    if (need.where.length === 0) {
      const row = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      counts.set(need.key, Number(row?.n ?? 0));
      continue;
    }
    const rows = await q.select('properties').execute();
    let n = 0;
    for (const r of rows) {
      const props = JSON.parse(r.properties) as Record<string, unknown>;
      if (need.where.every((rule) => matchesRule(propertyOf(props, rule.property), rule, now))) n++;
    }
    counts.set(need.key, n);
  }
  return counts;
}

async function countsSince(
  db: Kysely<Database>,
  profileId: string,
  metrics: ReadonlySet<string>,
  since: string,
): Promise<Map<string, number>> {
  let q = db
    .selectFrom('events')
    .select(['metric', (eb) => eb.fn.countAll<number>().as('n')])
    .where('profile_id', '=', profileId)
    .where('metric', 'in', [...metrics]);
  // Strictly after: the event that started the run is not "since" it.
  q = q.where('time', '>', since);
  const rows = await q.groupBy('metric').execute();
  const counts = new Map([...metrics].map((m) => [m, 0]));
  for (const r of rows) counts.set(r.metric, Number(r.n));
  return counts;
}
