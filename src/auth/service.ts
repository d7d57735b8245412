import crypto from 'node:crypto';
import type { Selectable, Transaction } from 'kysely';
import type { Db } from '../db';
import type { Database, UsersTable } from '../db/schema';
import { HttpError, ValidationError } from '../errors';
import type { SealedValue, SecretBox } from '../secrets';
import type { Scope } from './api-keys';
import { apiKeyId, apiKeyMatches, createApiKey } from './api-keys';
import { decoyHash, hashPassword, passwordProblem, verifyPassword } from './passwords';
import { FailureLimiter } from './rate-limit';
import type { Role } from './roles';
import { createRecoveryCodes, createTotpSetup, matchRecoveryCode, verifyTotp } from './totp';

export interface User {
  id: string;
  email: string;
  role: Role;
  twoStepEnabled: boolean;
  createdAt: string;
  disabledAt: string | null;
}

/** Who is calling: a signed-in user (session) or an API key acting for its user. */
export type Principal =
  | { kind: 'session'; user: User; csrf: string }
  | { kind: 'api_key'; user: User; keyId: string; scopes: Scope[] };

export const SESSION_TTL_MS = 12 * 3600 * 1000;
const LAST_USED_PRECISION_MS = 60_000;
/** What a principal needs of its user, read in the same query as the session or key. */
const USER_COLUMNS = ['u.id', 'u.email', 'u.role', 'u.totp_secret', 'u.created_at', 'u.disabled_at'] as const;
const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

function toUser(
  r: Pick<UsersTable, 'id' | 'email' | 'role' | 'totp_secret' | 'created_at' | 'disabled_at'>,
): User {
  return {
    id: r.id,
    email: r.email,
    role: r.role,
    twoStepEnabled: r.totp_secret !== null,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
  };
}

/** Accounts: users, sign-in with two-step codes, sessions, API keys. */
export class AccountService {
  /** Five failures in 15 minutes lock an account for 15 minutes; an address gets twenty. */
  readonly byAccount = new FailureLimiter(5, 15 * 60_000, 15 * 60_000);
  readonly byAddress = new FailureLimiter(20, 15 * 60_000, 15 * 60_000);

  private setupTokenHash: string | undefined;
  /** The tail of each account's queue of sign-in and code attempts. */
  private readonly attempts = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {}

  async userCount(): Promise<number> {
    const r = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async createUser(input: { email: string; password: string; role: Role }): Promise<User> {
    const email = input.email.trim().toLowerCase();
    const problem = passwordProblem(input.password);
    if (problem) throw new ValidationError([{ path: 'password', message: problem }]);
    const existing = await this.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirst();
    if (existing) throw new HttpError(409, 'email_taken', `a user with email ${email} exists`);
    const now = new Date().toISOString();
    const row = {
      id: `usr_${crypto.randomBytes(8).toString('hex')}`,
      email,
      password_hash: await hashPassword(input.password),
      role: input.role,
      totp_secret: null,
      totp_pending: null,
      created_at: now,
      updated_at: now,
      disabled_at: null,
    };
    await this.db.insertInto('users').values(row).execute();
    return toUser(row);
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('created_at').execute();
    return rows.map(toUser);
  }

  /** Changes a user's role; the last active owner cannot stop being one. */
  async setRole(userId: string, role: Role): Promise<User> {
    return this.db.transaction().execute(async (trx) => {
      const user = await this.userIn(trx, userId);
      if (role !== 'owner') await keepAnOwner(trx, user);
      await trx
        .updateTable('users')
        .set({ role, updated_at: new Date().toISOString() })
        .where('id', '=', userId)
        .execute();
      return { ...user, role };
    });
  }

  /**
   * Removes a user's access at once: sign-in refused, sessions ended, API keys revoked. The row
   * stays, so the audit log still says who made past changes.
   */
  async disableUser(userId: string, actingUserId: string): Promise<User> {
    if (userId === actingUserId)
      throw new HttpError(409, 'self', 'you cannot remove yourself; ask another owner');
    // One transaction: two owners removing each other at once cannot leave no owner.
    return this.db.transaction().execute(async (trx) => {
      const user = await this.userIn(trx, userId);
      await keepAnOwner(trx, user);
      const now = new Date().toISOString();
      await trx
        .updateTable('users')
        .set({ disabled_at: now, updated_at: now })
        .where('id', '=', userId)
        .execute();
      await trx.deleteFrom('sessions').where('user_id', '=', userId).execute();
      await trx
        .updateTable('api_keys')
        .set({ revoked_at: now })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .execute();
      return { ...user, disabledAt: now };
    });
  }

  private async userIn(trx: Transaction<Database>, id: string): Promise<User> {
    const r = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new HttpError(404, 'not_found', `user ${id} was not found`);
    return toUser(r);
  }

  async getUser(id: string): Promise<User | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toUser(r);
  }

  /** Refuses while the account (when given) or the address is locked out. */
  private locked(account: string | undefined, address: string): void {
    const wait = Math.max(
      account === undefined ? 0 : this.byAccount.lockedFor(account),
      this.byAddress.lockedFor(address),
    );
    if (wait > 0) {
      throw new HttpError(
        429,
        'locked_out',
        `too many failed attempts; try again in ${Math.ceil(wait / 60_000)} minute(s)`,
        [],
        {
          extra: { retryAfterSeconds: Math.ceil(wait / 1000) },
        },
      );
    }
  }

  private failed(account: string | undefined, address: string): void {
    if (account !== undefined) this.byAccount.fail(account);
    this.byAddress.fail(address);
  }

  /**
   * Runs attempts on one account one at a time, so the lockout check always sees the failures
   * before it: many guesses sent at once cannot all slip past it while a password is hashed.
   */
  private serially<T>(account: string, attempt: () => Promise<T>): Promise<T> {
    const prev = this.attempts.get(account) ?? Promise.resolve();
    const run = prev.then(attempt, attempt);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.attempts.set(account, tail);
    void tail.then(() => {
      if (this.attempts.get(account) === tail) this.attempts.delete(account);
    });
    return run;
  }

  /**
   * One attempt on an account's secrets (password or code): one at a time per account, refused
   * while the account or the address is locked, and `fail()` counts a wrong guess against both.
   */
  private attempt<T>(
    email: string,
    address: string,
    run: (outcome: { fail(): void; succeed(): void }) => Promise<T>,
  ): Promise<T> {
    const account = `acct:${email}`;
    const addr = `addr:${address}`;
    return this.serially(account, () => {
      this.locked(account, addr);
      return run({
        fail: () => this.failed(account, addr),
        succeed: () => this.byAccount.succeed(account),
      });
    });
  }

  /** Checks a TOTP code, or a recovery code (used once); records the step so codes are not replayed. */
  private async checkCode(row: Selectable<UsersTable>, code: string): Promise<boolean> {
    if (!row.totp_secret) return false;
    const secret = this.secrets.open(JSON.parse(row.totp_secret) as SealedValue);
    const step = verifyTotp(secret, code, row.totp_last_step);
    if (step !== undefined) {
      // Only one request can move the step forward: a replayed code in flight loses.
      const res = await this.db
        .updateTable('users')
        .set({ totp_last_step: step })
        .where('id', '=', row.id)
        .where('totp_last_step', '<', step)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    }
    const codes = await this.db
      .selectFrom('recovery_codes')
      .select(['id', 'code_hash'])
      .where('user_id', '=', row.id)
      .where('used_at', 'is', null)
      .execute();
    const i = matchRecoveryCode(
      code,
      codes.map((c) => c.code_hash),
    );
    if (i < 0) return false;
    const res = await this.db
      .updateTable('recovery_codes')
      .set({ used_at: new Date().toISOString() })
      .where('id', '=', codes[i]!.id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** Signs in; with two-step authentication on, a code (or a recovery code) is required too. */
  async signIn(input: { email: string; password: string; code?: string }, address: string) {
    const email = input.email.trim().toLowerCase();
    return this.attempt(email, address, async (outcome) => {
      const row = await this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
      const ok = row
        ? await verifyPassword(row.password_hash, input.password)
        : await verifyPassword(await decoyHash(), input.password);
      if (!row || !ok || row.disabled_at) {
        outcome.fail();
        throw new HttpError(401, 'invalid_credentials', 'the email or the password is wrong');
      }
      if (row.totp_secret) {
        if (!input.code)
          throw new HttpError(
            401,
            'two_step_code_required',
            'enter the code from your authenticator app (or a recovery code)',
          );
        if (!(await this.checkCode(row, input.code))) {
          outcome.fail();
          throw new HttpError(401, 'invalid_code', 'the code is wrong or was already used');
        }
      }
      outcome.succeed();
      return this.startSession(toUser(row));
    });
  }

  private async startSession(user: User) {
    const token = `hfs_${crypto.randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    const session = {
      token_hash: sha(token),
      user_id: user.id,
      csrf: crypto.randomBytes(18).toString('base64url'),
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + SESSION_TTL_MS).toISOString(),
    };
    await this.db.insertInto('sessions').values(session).execute();
    // Expired sessions are of no use to anyone; clear them as new ones start.
    await this.db.deleteFrom('sessions').where('expires_at', '<=', session.created_at).execute();
    return { token, csrf: session.csrf, expiresAt: session.expires_at, user };
  }

  /**
   * First start without a configured owner: a one-time setup token (held in memory, hashed) that
   * creates the first owner. Returns undefined once any user exists.
   */
  async createSetupToken(): Promise<string | undefined> {
    if ((await this.userCount()) > 0) return undefined;
    const token = crypto.randomBytes(24).toString('base64url');
    this.setupTokenHash = sha(token);
    return token;
  }

  get setupPending(): boolean {
    return this.setupTokenHash !== undefined;
  }

  /** Uses the setup token (once) to create the first owner and signs them in. */
  async completeSetup(input: { token: string; email: string; password: string }, address: string) {
    // Setup failures count per address only: nobody can lock the setup link for everyone.
    const addr = `setup:${address}`;
    this.locked(undefined, addr);
    const expected = this.setupTokenHash;
    const a = Buffer.from(sha(input.token), 'hex');
    if (!expected || !crypto.timingSafeEqual(a, Buffer.from(expected, 'hex'))) {
      this.failed(undefined, addr);
      throw new HttpError(403, 'setup_link_invalid', 'this setup link is not valid or was already used');
    }
    const problem = passwordProblem(input.password);
    if (problem) throw new ValidationError([{ path: 'password', message: problem }]);
    // Consumed before any await, so two requests with the same link cannot both create an owner.
    this.setupTokenHash = undefined;
    if ((await this.userCount()) > 0)
      throw new HttpError(409, 'setup_done', 'an owner exists already; sign in');
    return this.startSession(
      await this.createUser({ email: input.email, password: input.password, role: 'owner' }),
    );
  }

  /**
   * Changes the signed-in user's password; wrong current passwords count toward the lockout. Every
   * other session of the user ends (the one making the change stays signed in).
   */
  async changePassword(
    user: User,
    input: { currentPassword: string; newPassword: string },
    keepSessionToken: string,
    address: string,
  ): Promise<void> {
    const problem = passwordProblem(input.newPassword);
    if (problem) throw new ValidationError([{ path: 'newPassword', message: problem }]);
    await this.reconfirmPassword(user, input.currentPassword, 'currentPassword', address);
    const hash = await hashPassword(input.newPassword);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('users')
        .set({ password_hash: hash, updated_at: new Date().toISOString() })
        .where('id', '=', user.id)
        .execute();
      await trx
        .deleteFrom('sessions')
        .where('user_id', '=', user.id)
        .where('token_hash', '!=', sha(keepSessionToken))
        .execute();
    });
  }

  async signOut(token: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('token_hash', '=', sha(token)).execute();
  }

  /** Resolves a bearer token or session cookie value to a principal; undefined when unknown, expired or revoked. */
  async authenticate(token: string): Promise<Principal | undefined> {
    const keyId = apiKeyId(token);
    if (keyId) {
      // One query per request: the key with its user.
      const key = await this.db
        .selectFrom('api_keys as k')
        .innerJoin('users as u', 'u.id', 'k.user_id')
        .select([...USER_COLUMNS, 'k.key_hash', 'k.scopes', 'k.revoked_at', 'k.last_used_at'])
        .where('k.id', '=', keyId)
        .executeTakeFirst();
      if (!key || key.revoked_at || key.disabled_at || !apiKeyMatches(token, key.key_hash)) return undefined;
      // Last use to the minute: a key posting events many times a second writes once a minute.
      const now = new Date();
      if (!key.last_used_at || now.getTime() - Date.parse(key.last_used_at) >= LAST_USED_PRECISION_MS) {
        await this.db
          .updateTable('api_keys')
          .set({ last_used_at: now.toISOString() })
          .where('id', '=', keyId)
          .execute();
      }
      return { kind: 'api_key', user: toUser(key), keyId, scopes: JSON.parse(key.scopes) as Scope[] };
    }
    const s = await this.db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .select([...USER_COLUMNS, 's.csrf', 's.expires_at'])
      .where('s.token_hash', '=', sha(token))
      .executeTakeFirst();
    if (!s || s.disabled_at || s.expires_at <= new Date().toISOString()) return undefined;
    return { kind: 'session', user: toUser(s), csrf: s.csrf };
  }

  /**
   * Starts two-step setup. The password is asked again, so a session taken from someone (rather
   * than their password) cannot enrol the taker's authenticator.
   */
  async twoStepSetup(
    user: User,
    password: string,
    address: string,
  ): Promise<{ otpauthUri: string; qrSvg: string }> {
    if (user.twoStepEnabled)
      throw new HttpError(409, 'two_step_enabled', 'two-step authentication is already on; disable it first');
    await this.reconfirmPassword(user, password, 'password', address);
    const setup = await createTotpSetup(user.email);
    await this.db
      .updateTable('users')
      .set({ totp_pending: JSON.stringify(this.secrets.seal(setup.secret)) })
      .where('id', '=', user.id)
      .execute();
    return { otpauthUri: setup.uri, qrSvg: setup.qrSvg };
  }

  /** Checks a signed-in user's password again; wrong ones count toward the lockout (422 naming `field`). */
  private async reconfirmPassword(
    user: User,
    password: string,
    field: string,
    address: string,
  ): Promise<void> {
    await this.attempt(user.email, address, async (outcome) => {
      const row = await this.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      if (!(await verifyPassword(row.password_hash, password))) {
        outcome.fail();
        throw new ValidationError([{ path: field, message: 'is not your current password' }]);
      }
    });
  }

  /** Turns two-step authentication on with a first code; returns the recovery codes, shown once. */
  async twoStepConfirm(user: User, code: string): Promise<{ recoveryCodes: string[] }> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    if (!row.totp_pending) throw new HttpError(409, 'no_setup', 'start with POST /api/auth/two-step/setup');
    const secret = this.secrets.open(JSON.parse(row.totp_pending) as SealedValue);
    const step = verifyTotp(secret, code);
    if (step === undefined)
      throw new HttpError(422, 'invalid_code', 'the code is wrong; check the time on your device');
    const { codes, hashes } = createRecoveryCodes();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('users')
        .set({
          totp_secret: row.totp_pending,
          totp_pending: null,
          totp_last_step: step,
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', user.id)
        .execute();
      await trx.deleteFrom('recovery_codes').where('user_id', '=', user.id).execute();
      await trx
        .insertInto('recovery_codes')
        .values(hashes.map((h) => ({ user_id: user.id, code_hash: h, used_at: null })))
        .execute();
    });
    return { recoveryCodes: codes };
  }

  /** Turning two-step authentication off takes a current code (or a recovery code); guesses count toward the lockout. */
  async twoStepDisable(user: User, code: string, address: string): Promise<void> {
    await this.attempt(user.email, address, async (outcome) => {
      const row = await this.db
        .selectFrom('users')
        .selectAll()
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      if (!row.totp_secret)
        throw new HttpError(409, 'two_step_disabled', 'two-step authentication is not on');
      if (!(await this.checkCode(row, code))) {
        outcome.fail();
        throw new HttpError(422, 'invalid_code', 'the code is wrong or was already used');
      }
      await this.db
        .updateTable('users')
        .set({ totp_secret: null, totp_last_step: -1 })
        .where('id', '=', user.id)
        .execute();
      await this.db.deleteFrom('recovery_codes').where('user_id', '=', user.id).execute();
    });
  }

  async createApiKey(user: User, name: string, scopes: Scope[]) {
    const k = createApiKey();
    const now = new Date().toISOString();
    await this.db
      .insertInto('api_keys')
      .values({
        id: k.id,
        user_id: user.id,
        name,
        key_hash: k.hash,
        scopes: JSON.stringify(scopes),
        created_at: now,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
    return { id: k.id, key: k.key, name, scopes, createdAt: now };
  }

  async listApiKeys(user: User) {
    const rows = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('user_id', '=', user.id)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      scopes: JSON.parse(r.scopes) as Scope[],
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      revokedAt: r.revoked_at,
    }));
  }

  async revokeApiKey(user: User, id: string): Promise<void> {
    const res = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: new Date().toISOString() })
      .where('id', '=', id)
      .where('user_id', '=', user.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1)
      throw new HttpError(404, 'not_found', `API key ${id} was not found`);
  }
}

/** Refuses to take away the last active owner (inside the caller's transaction). */
async function keepAnOwner(trx: Transaction<Database>, user: User): Promise<void> {
  if (user.role !== 'owner' || user.disabledAt) return;
  const owners = await trx
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('role', '=', 'owner')
    .where('disabled_at', 'is', null)
    .executeTakeFirstOrThrow();
  if (Number(owners.n) <= 1)
    throw new HttpError(409, 'last_owner', 'this is the last owner; make another user owner first');
}
