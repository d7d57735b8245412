import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { likeAnyCase } from './dialect';
import type {
  CatalogItemsTable,
  Database,
  FanoutStatus,
  PriceDropFanoutsTable,
  PriceDropsTable,
} from './schema';

export type CatalogItemRow = CatalogItemsTable;
export type PriceDropRow = PriceDropsTable;
export type FanoutRow = PriceDropFanoutsTable;

/** One event row as the price-drop audience reads it. */
export interface AudienceEventRow {
  profile_id: string;
  metric: string;
  time: string;
  properties: string;
}

/** Items, price history, drops and their fan-outs; on the database or a transaction. */
export class CatalogStore {
  constructor(private readonly db: Kysely<Database>) {}

  async get(id: string): Promise<CatalogItemRow | undefined> {
    return this.db.selectFrom('catalog_items').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Items ordered by id, after `after` (keyset). */
  async page(after: string | undefined, limit: number): Promise<CatalogItemRow[]> {
    let q = this.db.selectFrom('catalog_items').selectAll().orderBy('id').limit(limit);
    if (after !== undefined) q = q.where('id', '>', after);
    return q.execute();
  }

  async upsert(row: CatalogItemRow): Promise<void> {
    await this.db
      .insertInto('catalog_items')
      .values(row)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          title: row.title,
          url: row.url,
          image_url: row.image_url,
          price: row.price,
          currency: row.currency,
          in_stock: row.in_stock,
          updated_at: row.updated_at,
        }),
      )
      .execute();
  }

  async delete(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom('catalog_items').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) === 1;
  }

  async addPrice(itemId: string, price: number, currency: string, at: string): Promise<void> {
    await this.db
      .insertInto('catalog_price_history')
      .values({ item_id: itemId, price, currency, changed_at: at })
      .execute();
  }

  async priceHistory(
    itemId: string,
    limit = 100,
  ): Promise<{ price: number; currency: string; changedAt: string }[]> {
    const rows = await this.db
      .selectFrom('catalog_price_history')
      .select(['price', 'currency', 'changed_at'])
      .where('item_id', '=', itemId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ price: r.price, currency: r.currency, changedAt: r.changed_at }));
  }

  async insertDrop(row: PriceDropRow): Promise<void> {
    await this.db.insertInto('price_drops').values(row).execute();
  }

  async getDrop(id: string): Promise<PriceDropRow | undefined> {
    return this.db.selectFrom('price_drops').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertFanout(row: FanoutRow): Promise<void> {
    await this.db
      .insertInto('price_drop_fanouts')
      .values(row)
      .onConflict((oc) => oc.columns(['drop_id', 'flow_id']).doNothing())
      .execute();
  }

  async fanout(dropId: string, flowId: string): Promise<FanoutRow | undefined> {
    return this.db
      .selectFrom('price_drop_fanouts')
      .selectAll()
      .where('drop_id', '=', dropId)
      .where('flow_id', '=', flowId)
      .executeTakeFirst();
  }

  async fanouts(dropId: string): Promise<FanoutRow[]> {
    return this.db
      .selectFrom('price_drop_fanouts')
      .selectAll()
      .where('drop_id', '=', dropId)
      .orderBy('flow_id')
      .execute();
  }

  /** Fan-outs whose workflow was never confirmed started, recorded before `before`. */
  async unstartedFanouts(before: string, limit: number): Promise<FanoutRow[]> {
    return this.db
      .selectFrom('price_drop_fanouts')
      .selectAll()
      .where('workflow_started_at', 'is', null)
      .where('created_at', '<', before)
      .orderBy('created_at')
      .limit(limit)
      .execute();
  }

  async markWorkflowStarted(dropId: string, flowId: string, at: string): Promise<void> {
    await this.db
      .updateTable('price_drop_fanouts')
      .set({ workflow_started_at: at })
      .where('drop_id', '=', dropId)
      .where('flow_id', '=', flowId)
      .where('workflow_started_at', 'is', null)
      .execute();
  }

  async updateFanout(
    dropId: string,
    flowId: string,
    set: Partial<
      Pick<FanoutRow, 'status' | 'cursor' | 'candidates' | 'processed' | 'started' | 'updated_at'>
    > & {
      status?: FanoutStatus;
    },
  ): Promise<void> {
    await this.db
      .updateTable('price_drop_fanouts')
      .set(set)
      .where('drop_id', '=', dropId)
      .where('flow_id', '=', flowId)
      .execute();
  }

  /**
   * The next page of profiles (ids after `after`, ascending) with a *candidate* event since
   * `since`: a metric of `metrics` whose properties mention the item id as text. The caller
   * decides exactly from their events ({@link audienceEvents}); the text test only narrows.
   */
  async candidateProfiles(
    metrics: readonly string[],
    itemId: string,
    since: string,
    after: string | null,
    limit: number,
  ): Promise<string[]> {
    let q = this.db
      .selectFrom('events')
      .select('profile_id')
      .distinct()
      .where('metric', 'in', [...metrics])
      .where('time', '>=', since)
      .where(likeAnyCase(this.db, sql.ref('properties'), likeContaining(itemId)))
      .orderBy('profile_id')
      .limit(limit);
    if (after !== null) q = q.where('profile_id', '>', after);
    const rows = await q.execute();
    return rows.map((r) => r.profile_id);
  }

  /** How many profiles {@link candidateProfiles} would page through in all. */
  async countCandidates(metrics: readonly string[], itemId: string, since: string): Promise<number> {
    const row = await this.db
      .selectFrom('events')
      .select(sql<number>`count(distinct profile_id)`.as('n'))
      .where('metric', 'in', [...metrics])
      .where('time', '>=', since)
      .where(likeAnyCase(this.db, sql.ref('properties'), likeContaining(itemId)))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** The events of `metrics` of these profiles that mention the item id as text. */
  async audienceEvents(
    profileIds: readonly string[],
    metrics: readonly string[],
    itemId: string,
  ): Promise<AudienceEventRow[]> {
    if (profileIds.length === 0) return [];
    return this.db
      .selectFrom('events')
      .select(['profile_id', 'metric', 'time', 'properties'])
      .where('profile_id', 'in', [...profileIds])
      .where('metric', 'in', [...metrics])
      .where(likeAnyCase(this.db, sql.ref('properties'), likeContaining(itemId)))
      .execute();
  }
}

/** A LIKE pattern matching text that contains `s` literally (`%`, `_` and `\` escaped). */
function likeContaining(s: string) {
  const escaped = s.replace(/[\\%_]/g, (c) => `\\${c}`);
  return sql<string>`${'%' + escaped + '%'} escape '\\'`;
}
