import type { Insertable, Kysely, Selectable } from 'kysely';
import { dialectOf } from './dialect';
import type { Database, RunsTable } from './schema';
import { UNCLAIMED } from './schema';

export type RunRow = Selectable<RunsTable>;

/** Ids per statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 500;

/** Flow entries and the runs table as an outbox; on the database or a transaction. */
export class EntryStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** When the profile last entered the flow, if ever. */
  async lastEntry(flowId: string, profileId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('flow_entries')
      .select('entered_at')
      .where('flow_id', '=', flowId)
      .where('profile_id', '=', profileId)
      .orderBy('entered_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.entered_at;
  }

  /** Records an entry; false when the unique (flow, profile, entry key) refused it. */
  async insertEntry(e: Database['flow_entries']): Promise<boolean> {
    const res = await this.db
      .insertInto('flow_entries')
      .values(e)
      .onConflict((oc) => oc.columns(['flow_id', 'profile_id', 'entry_key']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async insertRun(run: Insertable<RunsTable>): Promise<boolean> {
    const res = await this.db
      .insertInto('runs')
      .values(run)
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async runs(ids: readonly string[]): Promise<RunRow[]> {
    const out: RunRow[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      out.push(
        ...(await this.db
          .selectFrom('runs')
          .selectAll()
          .where('id', 'in', ids.slice(i, i + CHUNK))
          .execute()),
      );
    }
    return out;
  }

  /**
   * Claims up to `limit` queued runs whose claim lapsed (or that none held) for `claimant` until
   * `until`, lapsed longest first, and returns them. One statement, so no transaction waits on
   * Temporal: atomic on SQLite (one writer); on PostgreSQL the sub-select skips rows another claim
   * has locked, and the outer conditions are checked again on the row it updates.
   */
  async claimLapsed(claimant: string, now: string, until: string, limit: number): Promise<RunRow[]> {
    const lapsed = this.db
      .selectFrom('runs')
      .select('id')
      .where('started_at', 'is', null)
      .where('claim_expires_at', '<=', now)
      .orderBy('claim_expires_at')
      .limit(limit);
    const claim = { claimed_by: claimant, claim_expires_at: until };
    if (dialectOf(this.db) === 'postgres') {
      // A CTE, evaluated once: as `id in (sub-select)` the planner may run the locking sub-select
      // again per row, and LIMIT would then bound nothing.
      return this.db
        .with('picked', () => lapsed.forUpdate().skipLocked())
        .updateTable('runs')
        .set(claim)
        .from('picked')
        .whereRef('runs.id', '=', 'picked.id')
        .where('runs.started_at', 'is', null)
        .where('runs.claim_expires_at', '<=', now)
        .returningAll('runs')
        .execute();
    }
    return this.db.updateTable('runs').set(claim).where('id', 'in', lapsed).returningAll().execute();
  }

  /** Extends `claimant`'s claims on the queued runs among `runIds`; returns the ids it still holds. */
  async renewClaims(claimant: string, runIds: readonly string[], until: string): Promise<string[]> {
    const held: string[] = [];
    for (let i = 0; i < runIds.length; i += CHUNK) {
      const rows = await this.db
        .updateTable('runs')
        .set({ claim_expires_at: until })
        .where('id', 'in', runIds.slice(i, i + CHUNK))
        .where('claimed_by', '=', claimant)
        .where('started_at', 'is', null)
        .returning('id')
        .execute();
      held.push(...rows.map((r) => r.id));
    }
    return held;
  }

  /** Gives up `claimant`'s claims on the queued runs among `runIds`: any starter may take them now. */
  async releaseClaims(claimant: string, runIds: readonly string[]): Promise<void> {
    for (let i = 0; i < runIds.length; i += CHUNK) {
      await this.db
        .updateTable('runs')
        .set({ claimed_by: null, claim_expires_at: UNCLAIMED })
        .where('id', 'in', runIds.slice(i, i + CHUNK))
        .where('claimed_by', '=', claimant)
        .where('started_at', 'is', null)
        .execute();
    }
  }

  /** Runs recorded but not yet started on Temporal; served by runs_unstarted_idx (started_at first). */
  async countQueued(): Promise<number> {
    const row = await this.db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('started_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async markStarted(runIds: readonly string[], at: string): Promise<void> {
    for (let i = 0; i < runIds.length; i += CHUNK) {
      await this.db
        .updateTable('runs')
        .set({ started_at: at })
        .where('id', 'in', runIds.slice(i, i + CHUNK))
        .execute();
    }
  }
}
