import type { Kysely } from 'kysely';
import { dialectOf } from './dialect';
import type { Database, RunsTable } from './schema';

export type RunRow = RunsTable;

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

  async insertRun(run: RunRow): Promise<boolean> {
    const res = await this.db
      .insertInto('runs')
      .values(run)
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async runs(ids: readonly string[]): Promise<RunRow[]> {
    const out: RunRow[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      out.push(
        ...(await this.db
          .selectFrom('runs')
          .selectAll()
          .where('id', 'in', ids.slice(i, i + 500))
          .execute()),
      );
    }
    return out;
  }

  /**
   * Recorded runs Temporal has not accepted yet, recorded before `before`, oldest first. With
   * `claim` (inside a transaction, PostgreSQL): only rows no other transaction claimed, held until
   * this one ends, so sweeps of several processes share the outbox instead of racing for it.
   */
  async unstarted(before: string, limit: number, opts: { claim?: boolean } = {}): Promise<RunRow[]> {
    const q = this.db
      .selectFrom('runs')
      .selectAll()
      .where('started_at', 'is', null)
      .where('created_at', '<', before)
      .orderBy('created_at')
      .limit(limit);
    return (opts.claim && dialectOf(this.db) === 'postgres' ? q.forUpdate().skipLocked() : q).execute();
  }

  async markStarted(runIds: readonly string[], at: string): Promise<void> {
    for (let i = 0; i < runIds.length; i += 500) {
      await this.db
        .updateTable('runs')
        .set({ started_at: at })
        .where('id', 'in', runIds.slice(i, i + 500))
        .execute();
    }
  }
}
