import type { Insertable, Selectable } from 'kysely';
import type { Db } from './index';
import type { ApiKeysTable } from './schema';
import type { UserColumns } from './user-store';
import { USER_COLUMNS } from './user-store';

/** API keys, stored as a hash; `scopes` is a JSON array. */
export class ApiKeyStore {
  constructor(private readonly db: Db) {}

  async insert(key: Insertable<ApiKeysTable>): Promise<void> {
    await this.db.insertInto('api_keys').values(key).execute();
  }

  /** The key with its user, in one query (it runs on every request). */
  withUser(
    id: string,
  ): Promise<
    (UserColumns & Pick<ApiKeysTable, 'key_hash' | 'scopes' | 'revoked_at' | 'last_used_at'>) | undefined
  > {
    return this.db
      .selectFrom('api_keys as k')
      .innerJoin('users as u', 'u.id', 'k.user_id')
      .select([...USER_COLUMNS, 'k.key_hash', 'k.scopes', 'k.revoked_at', 'k.last_used_at'])
      .where('k.id', '=', id)
      .executeTakeFirst();
  }

  async setLastUsed(id: string, at: string): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  listFor(userId: string): Promise<Selectable<ApiKeysTable>[]> {
    return this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
  }

  /** Revokes one of the user's keys; false when they have no such key, or it was revoked already. */
  async revoke(id: string, userId: string): Promise<boolean> {
    const res = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: new Date().toISOString() })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
}
