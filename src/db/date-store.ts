import type { Kysely } from 'kysely';
import { jsonValue } from './dialect';
import type { Database } from './schema';

/** A profile holding a date property: its id and as much of its data as the date rules read. */
export interface DatedProfile {
  id: string;
  data: Record<string, unknown>;
}

/** Date-property flows: sweep watermarks, the occurrence of each date run, profiles with the property. */
export class DateStore {
  constructor(private readonly db: Kysely<Database>) {}

  async sweptTo(flowId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('date_sweeps')
      .select('swept_to')
      .where('flow_id', '=', flowId)
      .executeTakeFirst();
    return row?.swept_to;
  }

  /** Moves the watermark forward only: an older, slower sweep finishing late never moves it back. */
  async setSweptTo(flowId: string, to: string): Promise<void> {
    await this.db
      .insertInto('date_sweeps')
      .values({ flow_id: flowId, swept_to: to })
      .onConflict((oc) =>
        oc.column('flow_id').doUpdateSet({ swept_to: to }).where('date_sweeps.swept_to', '<', to),
      )
      .execute();
  }

  async forgetFlow(flowId: string): Promise<void> {
    await this.db.deleteFrom('date_sweeps').where('flow_id', '=', flowId).execute();
  }

  async recordRun(runId: string, occurrence: string, sendAt: string): Promise<void> {
    await this.db
      .insertInto('date_runs')
      .values({ run_id: runId, occurrence, send_at: sendAt })
      .onConflict((oc) => oc.column('run_id').doNothing())
      .execute();
  }

  async run(runId: string): Promise<{ occurrence: string; sendAt: string } | undefined> {
    const row = await this.db
      .selectFrom('date_runs')
      .select(['occurrence', 'send_at'])
      .where('run_id', '=', runId)
      .executeTakeFirst();
    return row && { occurrence: row.occurrence, sendAt: row.send_at };
  }

  /**
   * A page of profiles whose `property` is set, by id after `cursor`: the value and the profile's
   * zone only (the sweep reads every profile each minute; whole profiles only for those due).
   */
  async profilesWith(property: string, cursor: string | undefined, limit: number): Promise<DatedProfile[]> {
    const value = jsonValue(this.db, 'data', ['properties', property]);
    let q = this.db
      .selectFrom('profiles')
      .select(['id', value.as('value'), jsonValue(this.db, 'data', ['location', 'timezone']).as('timezone')])
      .where(value, 'is not', null);
    if (cursor !== undefined) q = q.where('id', '>', cursor);
    const rows = await q.orderBy('id').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      data: {
        properties: { [property]: r.value },
        ...(typeof r.timezone === 'string' ? { location: { timezone: r.timezone } } : {}),
      },
    }));
  }
}
