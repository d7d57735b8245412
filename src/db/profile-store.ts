import type { Kysely } from 'kysely';
import { lockForTransaction } from './dialect';
import type { Database, ProfilesTable } from './schema';

/** A profile row with its JSON data read. */
export interface ProfileRow {
  id: string;
  email: string | null;
  phoneNumber: string | null;
  externalId: string | null;
  data: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

function toProfile(row: ProfilesTable): ProfileRow {
  return {
    id: row.id,
    email: row.email,
    phoneNumber: row.phone_number,
    externalId: row.external_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Profiles by id and identifier. Built on the database or on a transaction (`new
 * ProfileStore(trx)`), so a profile change commits with whatever caused it.
 */
/** A profile as written: its identifiers and its data (standard fields and `properties`). */
export interface ProfileRecord {
  id: string;
  email: string | null;
  phoneNumber: string | null;
  externalId: string | null;
  data: Record<string, unknown>;
}

export class ProfileStore {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * In a transaction that reads what it then writes for a profile (a merge of its data, its
   * segment memberships): holds the profile until the transaction ends, so two such writers take
   * turns (PostgreSQL; SQLite's transactions are serial already). Works for a profile not yet
   * created too.
   */
  async hold(id: string): Promise<void> {
    await lockForTransaction(this.db, `profile:${id}`);
  }

  async get(id: string): Promise<ProfileRow | undefined> {
    const row = await this.db.selectFrom('profiles').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toProfile(row);
  }

  /** Which of `ids` exist. */
  async existing(ids: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .selectFrom('profiles')
        .select('id')
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
      for (const r of rows) out.add(r.id);
    }
    return out;
  }

  /** Profiles carrying this identifier (emails compared case-insensitively), oldest first. */
  async find(by: 'email' | 'phone_number' | 'external_id', value: string): Promise<ProfileRow[]> {
    let q = this.db.selectFrom('profiles').selectAll();
    q =
      by === 'email'
        ? q.where((eb) => eb(eb.fn('lower', ['email']), '=', value.toLowerCase()))
        : q.where(by, '=', value);
    const rows = await q.orderBy('created_at').orderBy('id').limit(100).execute();
    return rows.map(toProfile);
  }

  /** Writes the profile as given (identifiers kept when the new data lacks them); true when it was created. */
  async put(p: ProfileRecord, now: string): Promise<boolean> {
    const before = await this.db
      .selectFrom('profiles')
      .select('id')
      .where('id', '=', p.id)
      .executeTakeFirst();
    await this.write(p, now);
    return before === undefined;
  }

  /** {@link put} without asking whether it created the profile (one statement, for the event path). */
  async write(p: ProfileRecord, now: string): Promise<void> {
    await this.db
      .insertInto('profiles')
      .values(rowOf(p, now))
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          email: (eb) => eb.fn.coalesce(eb.ref('excluded.email'), eb.ref('profiles.email')),
          phone_number: (eb) =>
            eb.fn.coalesce(eb.ref('excluded.phone_number'), eb.ref('profiles.phone_number')),
          external_id: (eb) => eb.fn.coalesce(eb.ref('excluded.external_id'), eb.ref('profiles.external_id')),
          data: (eb) => eb.ref('excluded.data'),
          updated_at: now,
        }),
      )
      .execute();
  }

  /** Creates the profile unless it exists (an import never overwrites what a profile holds). */
  async createIfMissing(p: ProfileRecord, now: string): Promise<boolean> {
    const res = await this.db
      .insertInto('profiles')
      .values(rowOf(p, now))
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Deletes the profile and its list memberships (recording that it left each list); false when it did not exist. */
  async delete(id: string, by: string, at: string, historyId: () => string): Promise<boolean> {
    const lists = await this.db
      .selectFrom('list_members')
      .select('list_id')
      .where('profile_id', '=', id)
      .execute();
    for (const l of lists) {
      await this.db
        .insertInto('list_member_history')
        .values({ id: historyId(), list_id: l.list_id, profile_id: id, action: 'left', by, at })
        .execute();
    }
    await this.db.deleteFrom('list_members').where('profile_id', '=', id).execute();
    const res = await this.db.deleteFrom('profiles').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) === 1;
  }
}

function rowOf(p: ProfileRecord, now: string) {
  return {
    id: p.id,
    email: p.email,
    phone_number: p.phoneNumber,
    external_id: p.externalId,
    data: JSON.stringify(p.data),
    created_at: now,
    updated_at: now,
  };
}
