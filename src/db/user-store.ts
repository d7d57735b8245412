import type { Insertable, Selectable } from 'kysely';
import type { Db } from './index';
import type { UsersTable } from './schema';
import { lockForTransaction } from './dialect';

export type UserRow = Selectable<UsersTable>;

/** The user columns a session or key lookup reads with it (`u` is the joined users table). */
export const USER_COLUMNS = [
  'u.id',
  'u.email',
  'u.role',
  'u.totp_secret',
  'u.created_at',
  'u.disabled_at',
] as const;
export type UserColumns = Pick<
  UsersTable,
  'id' | 'email' | 'role' | 'totp_secret' | 'created_at' | 'disabled_at'
>;

/** Users with their password hash, TOTP state and recovery codes. */
export class UserStore {
  constructor(private readonly db: Db) {}

  /**
   * Runs `work` in one transaction (begun IMMEDIATE, see `openDatabase`), with a store bound to it:
   * a check and the write it guards cannot be split by another request.
   */
  transaction<T>(work: (users: UserStore) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      // PostgreSQL runs transactions side by side: account checks and changes take turns there too.
      await lockForTransaction(trx, 'users');
      return work(new UserStore(trx));
    });
  }

  async count(): Promise<number> {
    const r = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Owners not removed. */
  async activeOwners(): Promise<number> {
    const r = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'owner')
      .where('disabled_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async insert(row: Insertable<UsersTable>): Promise<void> {
    await this.db.insertInto('users').values(row).execute();
  }

  list(): Promise<UserRow[]> {
    return this.db.selectFrom('users').selectAll().orderBy('created_at').execute();
  }

  byId(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  byEmail(email: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  async setRole(id: string, role: UsersTable['role']): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ role, updated_at: new Date().toISOString() })
      .where('id', '=', id)
      .execute();
  }

  /** Marks the user removed, ends their sessions and revokes their API keys (call in a transaction). */
  async disable(id: string, at: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ disabled_at: at, updated_at: at })
      .where('id', '=', id)
      .execute();
    await this.db.deleteFrom('sessions').where('user_id', '=', id).execute();
    await this.db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('user_id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** Sets a new password hash and ends every session of the user but `keepTokenHash`, together. */
  async setPassword(id: string, passwordHash: string, keepTokenHash: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('users')
        .set({ password_hash: passwordHash, updated_at: new Date().toISOString() })
        .where('id', '=', id)
        .execute();
      await trx
        .deleteFrom('sessions')
        .where('user_id', '=', id)
        .where('token_hash', '!=', keepTokenHash)
        .execute();
    });
  }

  async setPendingTotp(id: string, sealedSecret: string): Promise<void> {
    await this.db.updateTable('users').set({ totp_pending: sealedSecret }).where('id', '=', id).execute();
  }

  /** Turns the pending secret on at `step` and replaces the recovery codes, together. */
  async enableTotp(
    id: string,
    sealedSecret: string,
    step: number,
    recoveryHashes: readonly string[],
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('users')
        .set({
          totp_secret: sealedSecret,
          totp_pending: null,
          totp_last_step: step,
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', id)
        .execute();
      await trx.deleteFrom('recovery_codes').where('user_id', '=', id).execute();
      await trx
        .insertInto('recovery_codes')
        .values(recoveryHashes.map((h) => ({ user_id: id, code_hash: h, used_at: null })))
        .execute();
    });
  }

  async disableTotp(id: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ totp_secret: null, totp_last_step: -1 })
      .where('id', '=', id)
      .execute();
    await this.db.deleteFrom('recovery_codes').where('user_id', '=', id).execute();
  }

  /** Moves the last accepted TOTP step forward; false when another request already took `step`. */
  async advanceTotpStep(id: string, step: number): Promise<boolean> {
    const res = await this.db
      .updateTable('users')
      .set({ totp_last_step: step })
      .where('id', '=', id)
      .where('totp_last_step', '<', step)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  unusedRecoveryCodes(userId: string): Promise<{ id: number; code_hash: string }[]> {
    return this.db
      .selectFrom('recovery_codes')
      .select(['id', 'code_hash'])
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .execute();
  }

  /** Marks a recovery code used; false when another request used it first. */
  async useRecoveryCode(id: number): Promise<boolean> {
    const res = await this.db
      .updateTable('recovery_codes')
      .set({ used_at: new Date().toISOString() })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
}
