import type { Db } from './index';
import type { Selectable } from 'kysely';
import type { EventsTable, RunsTable } from './schema';

export interface EventRecord {
  id: string;
  metric: string;
  profileId: string;
  profile: Record<string, unknown>;
  properties: Record<string, unknown>;
  uniqueId: string | null;
  time: string;
  receivedAt: string;
}

export type RunRow = Selectable<RunsTable>;

function toEvent(row: EventsTable): EventRecord {
  return {
    id: row.id,
    metric: row.metric,
    profileId: row.profile_id,
    profile: JSON.parse(row.profile) as Record<string, unknown>,
    properties: JSON.parse(row.properties) as Record<string, unknown>,
    uniqueId: row.unique_id,
    time: row.time,
    receivedAt: row.received_at,
  };
}

/** Profiles as events carry them, events, and the runs they started (recorded by `EntryStore`). */
export class EventStore {
  constructor(private readonly db: Db) {}

  /** The profile's stored JSON, as last sent; undefined for a new profile. */
  async profileData(id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('profiles').select('data').where('id', '=', id).executeTakeFirst();
    return row?.data;
  }

  /**
   * Stores the event unless one with the same metric and `unique_id` exists; returns the id of
   * the stored event and whether it was already there.
   */
  async insertEvent(e: EventRecord): Promise<{ id: string; duplicate: boolean }> {
    const res = await this.db
      .insertInto('events')
      .values({
        id: e.id,
        metric: e.metric,
        profile_id: e.profileId,
        profile: JSON.stringify(e.profile),
        properties: JSON.stringify(e.properties),
        unique_id: e.uniqueId,
        time: e.time,
        received_at: e.receivedAt,
      })
      .onConflict((oc) => oc.columns(['metric', 'unique_id']).doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) === 1) return { id: e.id, duplicate: false };
    const existing = await this.db
      .selectFrom('events')
      .select('id')
      .where('metric', '=', e.metric)
      .where('unique_id', '=', e.uniqueId)
      .executeTakeFirstOrThrow();
    return { id: existing.id, duplicate: true };
  }

  async getEvent(id: string): Promise<EventRecord | undefined> {
    const row = await this.db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toEvent(row);
  }

  async latestEvent(metric: string): Promise<EventRecord | undefined> {
    return (await this.recentEvents(metric, 1))[0];
  }

  /** Newest first; served by the (metric, received_at) index. */
  async recentEvents(metric: string, limit: number): Promise<EventRecord[]> {
    const rows = await this.db
      .selectFrom('events')
      .selectAll()
      .where('metric', '=', metric)
      .orderBy('received_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toEvent);
  }

  /**
   * One profile's events, newest first by event time (id breaks ties), optionally of one metric,
   * after a keyset position; served by the (profile_id, metric, time) index.
   */
  async profileEvents(
    profileId: string,
    page: { metric?: string; limit: number; before?: { time: string; id: string } },
  ): Promise<EventRecord[]> {
    let q = this.db.selectFrom('events').selectAll().where('profile_id', '=', profileId);
    if (page.metric !== undefined) q = q.where('metric', '=', page.metric);
    const before = page.before;
    if (before) {
      q = q.where((eb) =>
        eb.or([
          eb('time', '<', before.time),
          eb.and([eb('time', '=', before.time), eb('id', '<', before.id)]),
        ]),
      );
    }
    const rows = await q.orderBy('time', 'desc').orderBy('id', 'desc').limit(page.limit).execute();
    return rows.map(toEvent);
  }

  /** The metric names events have used, most recently received first (suggestions for triggers). */
  async recentMetrics(limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('events')
      .select(['metric', (eb) => eb.fn.max('received_at').as('last')])
      .groupBy('metric')
      .orderBy('last', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => r.metric);
  }

  /** The latest profiles, newest first, as they were last sent. */
  async recentProfiles(limit: number): Promise<Record<string, unknown>[]> {
    const rows = await this.db
      .selectFrom('profiles')
      .select('data')
      .orderBy('updated_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => JSON.parse(r.data) as Record<string, unknown>);
  }

  /** The most recently changed profile, as last sent; for samples of list and segment flows. */
  async latestProfile(): Promise<{ id: string; data: Record<string, unknown> } | undefined> {
    const row = await this.db
      .selectFrom('profiles')
      .select(['id', 'data'])
      .orderBy('updated_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && { id: row.id, data: JSON.parse(row.data) as Record<string, unknown> };
  }

  async runsForEvent(eventId: string): Promise<RunRow[]> {
    return this.db
      .selectFrom('runs')
      .selectAll()
      .where('event_id', '=', eventId)
      .orderBy('created_at')
      .execute();
  }

  async getRun(runId: string): Promise<RunRow | undefined> {
    return this.db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst();
  }
}
