import type { Kysely } from 'kysely';
import type { Database, ListMemberHistoryTable, ListMembersTable, ListsTable } from './schema';

export interface ListRow {
  id: string;
  name: string;
  doubleOptIn: boolean;
  createdAt: string;
  updatedAt: string;
}

const toList = (r: ListsTable): ListRow => ({
  id: r.id,
  name: r.name,
  doubleOptIn: r.double_opt_in === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export type MemberRow = ListMembersTable;
export type HistoryRow = ListMemberHistoryTable;

/** Lists, their members and the history of each membership; on the database or a transaction. */
export class ListStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(list: ListRow): Promise<void> {
    await this.db
      .insertInto('lists')
      .values({
        id: list.id,
        name: list.name,
        double_opt_in: list.doubleOptIn ? 1 : 0,
        created_at: list.createdAt,
        updated_at: list.updatedAt,
      })
      .execute();
  }

  async get(id: string): Promise<ListRow | undefined> {
    const row = await this.db.selectFrom('lists').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toList(row);
  }

  async all(): Promise<ListRow[]> {
    const rows = await this.db.selectFrom('lists').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toList);
  }

  async update(list: ListRow): Promise<void> {
    await this.db
      .updateTable('lists')
      .set({ name: list.name, double_opt_in: list.doubleOptIn ? 1 : 0, updated_at: list.updatedAt })
      .where('id', '=', list.id)
      .execute();
  }

  /** Deletes the list and its current members; the history stays. */
  async delete(id: string): Promise<boolean> {
    await this.db.deleteFrom('list_members').where('list_id', '=', id).execute();
    const res = await this.db.deleteFrom('lists').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) === 1;
  }

  async member(listId: string, profileId: string): Promise<MemberRow | undefined> {
    return this.db
      .selectFrom('list_members')
      .selectAll()
      .where('list_id', '=', listId)
      .where('profile_id', '=', profileId)
      .executeTakeFirst();
  }

  /** Adds the member unless it is one already; true when it was added. */
  async addMember(row: MemberRow): Promise<boolean> {
    const res = await this.db
      .insertInto('list_members')
      .values(row)
      .onConflict((oc) => oc.columns(['list_id', 'profile_id']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Pending → subscribed; true when this call confirmed it. */
  async confirm(listId: string, profileId: string, at: string): Promise<boolean> {
    const res = await this.db
      .updateTable('list_members')
      .set({ status: 'subscribed', confirmed_at: at })
      .where('list_id', '=', listId)
      .where('profile_id', '=', profileId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async removeMember(listId: string, profileId: string): Promise<boolean> {
    const res = await this.db
      .deleteFrom('list_members')
      .where('list_id', '=', listId)
      .where('profile_id', '=', profileId)
      .executeTakeFirst();
    return Number(res.numDeletedRows) === 1;
  }

  async record(h: HistoryRow): Promise<void> {
    await this.db.insertInto('list_member_history').values(h).execute();
  }

  /** A page of members in join order, after the (joined_at, profile_id) of the last one seen. */
  async members(
    listId: string,
    limit: number,
    after?: { joinedAt: string; profileId: string },
    status?: MemberRow['status'],
  ): Promise<MemberRow[]> {
    let q = this.db.selectFrom('list_members').selectAll().where('list_id', '=', listId);
    if (status) q = q.where('status', '=', status);
    if (after) {
      q = q.where((eb) =>
        eb.or([
          eb('joined_at', '>', after.joinedAt),
          eb.and([eb('joined_at', '=', after.joinedAt), eb('profile_id', '>', after.profileId)]),
        ]),
      );
    }
    return q.orderBy('joined_at').orderBy('profile_id').limit(limit).execute();
  }

  async count(listId: string): Promise<number> {
    const r = await this.db
      .selectFrom('list_members')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('list_id', '=', listId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async history(listId: string, profileId: string): Promise<HistoryRow[]> {
    return this.db
      .selectFrom('list_member_history')
      .selectAll()
      .where('list_id', '=', listId)
      .where('profile_id', '=', profileId)
      .orderBy('at')
      .orderBy('id')
      .execute();
  }
}
