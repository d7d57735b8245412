import type { Insertable } from 'kysely';
import type { Db } from './index';
import type { SessionsTable } from './schema';
import type { UserColumns } from './user-store';
import { USER_COLUMNS } from './user-store';

/** Sessions, stored by the hash of their token. */
export class SessionStore {
  constructor(private readonly db: Db) {}

  async insert(session: Insertable<SessionsTable>): Promise<void> {
    await this.db.insertInto('sessions').values(session).execute();
  }

  async deleteExpired(now: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
  }

  /** The session with its user, in one query (it runs on every request). */
  withUser(
    tokenHash: string,
  ): Promise<(UserColumns & Pick<SessionsTable, 'csrf' | 'expires_at'>) | undefined> {
    return this.db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .select([...USER_COLUMNS, 's.csrf', 's.expires_at'])
      .where('s.token_hash', '=', tokenHash)
      .executeTakeFirst();
  }
}
