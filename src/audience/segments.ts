import { refuseIfTriggering } from './in-use';
import crypto from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Db, Database } from '../db';
import { dialectOf } from '../db';
import { ProfileStore } from '../db/profile-store';
import type { SegmentsTable } from '../db/schema';
import { NotFoundError, ValidationError } from '../errors';
import type { Logger } from '../logger';
import type { ConditionNeeds, Definition, SegmentCondition } from './conditions';
import { conditionNeeds, evaluateDefinition } from './conditions';
import type { EntryQueue, PendingEntry } from './entry-queue';
import { loadFacts } from './facts';

/** Profiles handled per recompute transaction: small enough not to hold the write lock for long. */
const RECOMPUTE_BATCH = 250;
/** How long the routing cache of segment definitions is trusted without a local write. */
const CACHE_MS = 5000;

export type SegmentDefinition = Definition<SegmentCondition>;

/** What changed about a profile, so only the segments it can affect are evaluated again. */
export type ReevaluateCause =
  | { kind: 'profile' }
  | { kind: 'event'; metric: string; profileChanged: boolean }
  | { kind: 'list'; listId: string }
  | { kind: 'deleted' };

/** What profile and list changes call after commit to keep segment membership current. */
export type SegmentHook = Pick<SegmentService, 'reevaluate'>;

/** Which list ids exist; the lists feature answers (nothing exists until it is wired). */
export interface ListDirectory {
  /** The ids among `ids` that are not lists. */
  missing(ids: readonly string[]): Promise<string[]>;
}

export interface PublicSegment {
  id: string;
  name: string;
  definition: SegmentDefinition;
  version: number;
  memberCount: number;
  recompute: {
    status: SegmentsTable['recompute_status'];
    processed: number;
    total: number;
    startedAt: string | null;
    finishedAt: string | null;
  };
  createdAt: string;
  updatedAt: string;
}

export interface SegmentDeps {
  db: Db;
  lists: ListDirectory;
  logger: Logger;
  /**
   * Starts segment-triggered flows on organic entry. Optional until the lists feature's queue is
   * wired in `src/api/server.ts`; without it, memberships are still kept.
   */
  entries?: EntryQueue | undefined;
  now?: () => Date;
}

/** A segment as cached for routing changes: its definition and what it reads. */
interface Compiled {
  id: string;
  definition: SegmentDefinition;
  needs: ConditionNeeds;
  profileConditions: boolean;
  metrics: ReadonlySet<string>;
}

const compile = (id: string, definition: SegmentDefinition): Compiled => {
  const needs = conditionNeeds(definition);
  return {
    id,
    definition,
    needs,
    profileConditions: definition.groups.some((g) => g.conditions.some((c) => c.type === 'profile_property')),
    metrics: new Set(needs.metrics.map((m) => m.metric)),
  };
};

/** The facts several segments read, loaded once for a profile. */
function mergeNeeds(segments: readonly Compiled[]): ConditionNeeds {
  const merged: ConditionNeeds = {
    lists: new Set(),
    metrics: [],
    flowHistory: false,
    metricsSinceEntry: new Set(),
  };
  const keys = new Set<string>();
  for (const s of segments) {
    for (const l of s.needs.lists) merged.lists.add(l);
    for (const m of s.needs.metrics) {
      if (!keys.has(m.key)) {
        keys.add(m.key);
        merged.metrics.push(m);
      }
    }
  }
  return merged;
}

const newId = () => `seg_${crypto.randomUUID().replace(/-/g, '')}`;

/**
 * Segments: definitions, membership kept current as profiles change ({@link reevaluate}), and the
 * background recompute a definition edit starts (resumable: the cursor is stored with each batch).
 * Only organic entries (a profile's data changed) go to the entry queue; recomputes never do.
 */
export class SegmentService {
  private readonly db: Db;
  private readonly now: () => Date;
  private cache: Compiled[] | undefined;
  private cachedAt = 0;
  private readonly recomputing = new Map<string, Promise<void>>();
  private closed = false;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SegmentDeps) {
    this.db = deps.db;
    this.now = deps.now ?? (() => new Date());
  }

  async create(input: { name: string; definition: SegmentDefinition }): Promise<PublicSegment> {
    await this.checkLists(input.definition);
    const now = this.now().toISOString();
    const id = newId();
    const total = await this.profileCount();
    await this.db
      .insertInto('segments')
      .values({
        id,
        name: input.name,
        definition: JSON.stringify(input.definition),
        version: 1,
        ...recomputeFromStart(total, now),
        created_at: now,
        updated_at: now,
      })
      .execute();
    this.cache = undefined;
    this.startRecompute(id);
    return this.get(id);
  }

  async list(): Promise<PublicSegment[]> {
    const rows = await this.db
      .selectFrom('segments')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return Promise.all(rows.map((r) => this.toPublic(r)));
  }

  /** Every segment's id and name, by name: one query (for choosing a trigger). */
  async names(): Promise<{ id: string; name: string }[]> {
    return this.db.selectFrom('segments').select(['id', 'name']).orderBy('name').orderBy('id').execute();
  }

  async get(id: string): Promise<PublicSegment> {
    return this.toPublic(await this.row(id));
  }

  /** For segment triggers: does the segment exist? */
  async exists(id: string): Promise<boolean> {
    const row = await this.db.selectFrom('segments').select('id').where('id', '=', id).executeTakeFirst();
    return row !== undefined;
  }

  /** A new name keeps members; a new definition recomputes them in the background (no flows start). */
  async patch(id: string, input: { name?: string; definition?: SegmentDefinition }): Promise<PublicSegment> {
    const row = await this.row(id);
    const now = this.now().toISOString();
    if (input.definition === undefined) {
      if (input.name !== undefined) {
        await this.db
          .updateTable('segments')
          .set({ name: input.name, updated_at: now })
          .where('id', '=', id)
          .execute();
      }
      return this.get(id);
    }
    await this.checkLists(input.definition);
    const total = await this.profileCount();
    await this.db
      .updateTable('segments')
      .set({
        name: input.name ?? row.name,
        definition: JSON.stringify(input.definition),
        version: row.version + 1,
        ...recomputeFromStart(total, now),
        updated_at: now,
      })
      .where('id', '=', id)
      .execute();
    this.cache = undefined;
    this.startRecompute(id);
    return this.get(id);
  }

  /** Deletes the segment and its current members; the history of stays is kept. */
  async delete(id: string): Promise<void> {
    await this.row(id);
    const now = this.now().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await refuseIfTriggering(trx, 'segment', id);
      await trx
        .updateTable('segment_membership_history')
        .set({ exited_at: now })
        .where('segment_id', '=', id)
        .where('exited_at', 'is', null)
        .execute();
      await trx.deleteFrom('segment_members').where('segment_id', '=', id).execute();
      await trx.deleteFrom('segments').where('id', '=', id).execute();
    });
    this.cache = undefined;
  }

  /** Current members by profile id, `limit` at a time after `after` (keyset). */
  async members(
    id: string,
    page: { limit: number; after?: string | undefined },
  ): Promise<{ members: { profileId: string; enteredAt: string }[]; next: string | null }> {
    await this.row(id);
    let q = this.db
      .selectFrom('segment_members')
      .select(['profile_id', 'entered_at'])
      .where('segment_id', '=', id)
      .orderBy('profile_id')
      .limit(page.limit + 1);
    if (page.after !== undefined) q = q.where('profile_id', '>', page.after);
    const rows = await q.execute();
    const more = rows.length > page.limit;
    const members = rows
      .slice(0, page.limit)
      .map((r) => ({ profileId: r.profile_id, enteredAt: r.entered_at }));
    return { members, next: more ? (members.at(-1)?.profileId ?? null) : null };
  }

  /**
   * Brings the memberships of these profiles up to date after a change, evaluating only the
   * segments the change can affect. Call after the change's transaction committed. Organic entries
   * are queued for segment-triggered flows in the same transaction as the membership change.
   */
  async reevaluate(profileIds: string | readonly string[], cause: ReevaluateCause): Promise<void> {
    const ids = typeof profileIds === 'string' ? [profileIds] : profileIds;
    const segments = (await this.segments()).filter((s) => affects(s, cause));
    if (segments.length === 0 && cause.kind !== 'deleted') return;
    const needs = mergeNeeds(segments);
    for (const profileId of ids) {
      // Most changes move no membership: decide on a plain read first, and take the write lock
      // only when something moves (deciding again inside it, as another change may have won).
      if ((await this.changes(this.db, profileId, segments, needs, cause)).length === 0) continue;
      const started = await this.db.transaction().execute(async (trx) => {
        await new ProfileStore(trx).hold(profileId);
        const now = this.now();
        const pending: PendingEntry[] = [];
        for (const change of await this.changes(trx, profileId, segments, needs, cause)) {
          if (change.enter) pending.push(...(await this.enter(trx, change.segmentId, profileId, now, true)));
          else await this.exit(trx, change.segmentId, profileId, now);
        }
        return pending;
      });
      if (started.length > 0 && this.deps.entries) await this.deps.entries.start(started);
    }
  }

  /** The memberships of one profile that differ from what the segments' definitions now say. */
  private async changes(
    db: Kysely<Database>,
    profileId: string,
    segments: readonly Compiled[],
    needs: ConditionNeeds,
    cause: ReevaluateCause,
  ): Promise<{ segmentId: string; enter: boolean }[]> {
    const facts =
      cause.kind === 'deleted' ? undefined : await loadFacts(db, profileId, needs, { now: this.now() });
    const current = new Set(
      (
        await db
          .selectFrom('segment_members')
          .select('segment_id')
          .where('profile_id', '=', profileId)
          .execute()
      ).map((r) => r.segment_id),
    );
    // A deleted (or unknown) profile leaves every segment it is in.
    if (facts === undefined) return [...current].map((segmentId) => ({ segmentId, enter: false }));
    return segments
      .map((s) => ({ segmentId: s.id, enter: evaluateDefinition(s.definition, facts) }))
      .filter((c) => c.enter !== current.has(c.segmentId));
  }

  /** Continues recomputes cut short by a restart. */
  async resumeRecomputes(): Promise<void> {
    const rows = await this.db
      .selectFrom('segments')
      .select('id')
      .where('recompute_status', '=', 'running')
      .execute();
    for (const r of rows) this.startRecompute(r.id);
  }

  /**
   * Memberships that depend on the clock ("in the last 30 days", a metric counted over the last N
   * days) change as time passes with no event to notice it: recomputes, in the background, every
   * segment whose definition reads the clock and is not already recomputing. Like a definition
   * edit, a refresh starts no flows. Returns the ids of the segments it started.
   */
  async refreshClockDependent(): Promise<string[]> {
    const now = this.now().toISOString();
    const total = await this.profileCount();
    const started: string[] = [];
    for (const s of await this.segments()) {
      if (!readsClock(s.definition)) continue;
      const res = await this.db
        .updateTable('segments')
        .set({
          ...recomputeFromStart(total, now),
        })
        .where('id', '=', s.id)
        .where('recompute_status', '=', 'idle')
        .executeTakeFirst();
      if (res.numUpdatedRows > 0n) {
        this.startRecompute(s.id);
        started.push(s.id);
      }
    }
    return started;
  }

  /** Runs {@link refreshClockDependent} every `everyMs` until {@link close}. */
  scheduleClockRefresh(everyMs: number): void {
    this.refreshTimer = setInterval(() => {
      this.refreshClockDependent().catch((err: unknown) =>
        this.deps.logger.error({ err }, 'segment clock refresh failed'),
      );
    }, everyMs);
    this.refreshTimer.unref();
  }

  /** Waits for the background recomputes running in this process (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.recomputing.size > 0) await Promise.all([...this.recomputing.values()]);
  }

  /** Stops taking new recompute batches; the stored cursor lets the next start continue. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    await this.idle();
  }

  private startRecompute(id: string): void {
    // One loop per segment: a loop already running reads the reset cursor on its next batch.
    if (this.recomputing.has(id) || this.closed) return;
    const run = this.recompute(id)
      .catch((err: unknown) => this.deps.logger.error({ err, segmentId: id }, 'segment recompute failed'))
      .finally(() => this.recomputing.delete(id));
    this.recomputing.set(id, run);
  }

  /** Visits every profile in id order, a batch per transaction that also stores the cursor. */
  private async recompute(id: string): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const done = await this.db.transaction().execute(async (trx) => {
        const read = trx.selectFrom('segments').selectAll().where('id', '=', id);
        // Two API processes resuming one recompute: on PostgreSQL the segment row makes their
        // batches take turns, each continuing from the cursor the other stored.
        const seg = await (dialectOf(trx) === 'postgres' ? read.forUpdate() : read).executeTakeFirst();
        if (!seg || seg.recompute_status !== 'running') return true;
        const now = this.now();
        let q = trx.selectFrom('profiles').select('id').orderBy('id').limit(RECOMPUTE_BATCH);
        if (seg.recompute_cursor !== null) q = q.where('id', '>', seg.recompute_cursor);
        const profiles = await q.execute();
        if (profiles.length === 0) {
          await trx
            .updateTable('segments')
            .set({ recompute_status: 'idle', recompute_finished_at: now.toISOString() })
            .where('id', '=', id)
            .execute();
          this.deps.logger.info({ segmentId: id, processed: seg.recompute_processed }, 'segment recomputed');
          return true;
        }
        const compiled = compile(id, JSON.parse(seg.definition) as SegmentDefinition);
        const members = new Set(
          (
            await trx
              .selectFrom('segment_members')
              .select('profile_id')
              .where('segment_id', '=', id)
              .where(
                'profile_id',
                'in',
                profiles.map((p) => p.id),
              )
              .execute()
          ).map((r) => r.profile_id),
        );
        for (const p of profiles) {
          const facts = await loadFacts(trx, p.id, compiled.needs, { now });
          const inNow = facts !== undefined && evaluateDefinition(compiled.definition, facts);
          if (inNow === members.has(p.id)) continue;
          // Not organic: a definition edit never starts flows.
          if (inNow) await this.enter(trx, id, p.id, now, false);
          else await this.exit(trx, id, p.id, now);
        }
        await trx
          .updateTable('segments')
          .set({
            recompute_cursor: profiles.at(-1)?.id ?? null,
            recompute_processed: seg.recompute_processed + profiles.length,
            recompute_total: Math.max(seg.recompute_total, seg.recompute_processed + profiles.length),
          })
          .where('id', '=', id)
          .execute();
        return false;
      });
      if (done) return;
      // Let requests in between batches.
      await new Promise((r) => setImmediate(r));
    }
  }

  private async enter(
    trx: Transaction<Database>,
    segmentId: string,
    profileId: string,
    now: Date,
    organic: boolean,
  ): Promise<PendingEntry[]> {
    const at = now.toISOString();
    // The member key decides when a recompute and a change of the profile both enter it at once.
    const inserted = await trx
      .insertInto('segment_members')
      .values({ segment_id: segmentId, profile_id: profileId, entered_at: at })
      .onConflict((oc) => oc.columns(['segment_id', 'profile_id']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return [];
    const history = await trx
      .insertInto('segment_membership_history')
      .values({
        segment_id: segmentId,
        profile_id: profileId,
        entered_at: at,
        exited_at: null,
        organic: organic ? 1 : 0,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (!organic || !this.deps.entries) return [];
    // The stay's history row identifies the change: a retry maps to the same runs.
    const changeId = `segment:${segmentId}:${history.id}`;
    return this.deps.entries.enqueue(trx, { type: 'segment', segmentId }, profileId, changeId, at);
  }

  private async exit(
    trx: Transaction<Database>,
    segmentId: string,
    profileId: string,
    now: Date,
  ): Promise<void> {
    const deleted = await trx
      .deleteFrom('segment_members')
      .where('segment_id', '=', segmentId)
      .where('profile_id', '=', profileId)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) return;
    await trx
      .updateTable('segment_membership_history')
      .set({ exited_at: now.toISOString() })
      .where('segment_id', '=', segmentId)
      .where('profile_id', '=', profileId)
      .where('exited_at', 'is', null)
      .execute();
  }

  private async segments(): Promise<Compiled[]> {
    // Reloaded after a local write at once, and every few seconds for writes by another API process.
    if (this.cache === undefined || Date.now() - this.cachedAt > CACHE_MS) {
      this.cachedAt = Date.now();
      const rows = await this.db.selectFrom('segments').select(['id', 'definition']).execute();
      this.cache = rows.map((r) => compile(r.id, JSON.parse(r.definition) as SegmentDefinition));
    }
    return this.cache;
  }

  private async row(id: string): Promise<SegmentsTable> {
    const row = await this.db.selectFrom('segments').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('segment', 'segment_not_found');
    return row;
  }

  private async profileCount(): Promise<number> {
    const row = await this.db
      .selectFrom('profiles')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  private async checkLists(def: SegmentDefinition): Promise<void> {
    const wanted = [...conditionNeeds(def).lists];
    if (wanted.length === 0) return;
    const missing = new Set(await this.deps.lists.missing(wanted));
    if (missing.size === 0) return;
    const problems = def.groups.flatMap((g, gi) =>
      g.conditions.flatMap((c, ci) =>
        c.type === 'list_membership' && missing.has(c.listId)
          ? [
              {
                path: `definition.groups.${gi}.conditions.${ci}.listId`,
                message: `no list has the id ${c.listId}`,
              },
            ]
          : [],
      ),
    );
    throw new ValidationError(
      problems,
      'the segment names a list that does not exist',
      undefined,
      'unknown_list',
    );
  }

  private async toPublic(row: SegmentsTable): Promise<PublicSegment> {
    const count = await this.db
      .selectFrom('segment_members')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('segment_id', '=', row.id)
      .executeTakeFirst();
    return {
      id: row.id,
      name: row.name,
      definition: JSON.parse(row.definition) as SegmentDefinition,
      version: row.version,
      memberCount: Number(count?.n ?? 0),
      recompute: {
        status: row.recompute_status,
        processed: row.recompute_processed,
        total: row.recompute_total,
        startedAt: row.recompute_started_at,
        finishedAt: row.recompute_finished_at,
      },
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}

const CLOCK_OPERATORS: ReadonlySet<string> = new Set([
  'in_last_days',
  'not_in_last_days',
  'within_next_days',
]);

/** Does membership depend on the time of evaluation (a relative date, a metric window)? */
export function readsClock(def: SegmentDefinition): boolean {
  return def.groups.some((g) =>
    g.conditions.some((c) =>
      c.type === 'profile_property'
        ? CLOCK_OPERATORS.has(c.operator)
        : c.type === 'metric' &&
          (c.lastDays !== undefined || c.where.some((w) => CLOCK_OPERATORS.has(w.operator))),
    ),
  );
}

/** Could this change alter membership of this segment? */
function affects(s: Compiled, cause: ReevaluateCause): boolean {
  switch (cause.kind) {
    case 'profile':
      return s.profileConditions;
    case 'event':
      return s.metrics.has(cause.metric) || (cause.profileChanged && s.profileConditions);
    case 'list':
      return s.needs.lists.has(cause.listId);
    case 'deleted':
      return false;
  }
}

/** No lists exist until the lists feature answers: every list id is unknown. */
export const noLists: ListDirectory = { missing: (ids) => Promise.resolve([...ids]) };

/** The recompute columns of a segment whose members are recomputed from the first profile. */
function recomputeFromStart(total: number, now: string) {
  return {
    recompute_status: 'running' as const,
    recompute_cursor: null,
    recompute_processed: 0,
    recompute_total: total,
    recompute_started_at: now,
    recompute_finished_at: null,
  };
}
