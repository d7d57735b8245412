import crypto from 'node:crypto';
import { isUniqueViolation } from '../db';
import type { UserColumns, UserStore } from '../db/user-store';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import type { Lockout } from './lockout';
import { hashPassword, passwordProblem, verifyPassword } from './passwords';
import type { Role, User } from '../permissions';

export const sha256 = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');

export function toUser(r: UserColumns): User {
  return {
    id: r.id,
    email: r.email,
    role: r.role,
    twoStepEnabled: r.totp_secret !== null,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
  };
}

/** Refuses to take away the last active owner (call inside the transaction that changes them). */
async function keepAnOwner(users: UserStore, user: User): Promise<void> {
  if (user.role !== 'owner' || user.disabledAt) return;
  if ((await users.activeOwners()) <= 1)
    throw new ConflictError('last_owner', 'this is the last owner; make another user owner first');
}

/** Users: creating them, their role, removing them, their password. */
export class UserService {
  constructor(
    private readonly users: UserStore,
    private readonly lockout: Lockout,
    /** Told after a user's role or access changed (remembered API-key principals are dropped). */
    private readonly accessChanged: (userId: string) => void = () => {},
  ) {}

  count(): Promise<number> {
    return this.users.count();
  }

  async create(input: { email: string; password: string; role: Role }): Promise<User> {
    const email = input.email.trim().toLowerCase();
    const problem = passwordProblem(input.password);
    if (problem) throw new ValidationError([{ path: 'password', message: problem }]);
    if (await this.users.byEmail(email))
      throw new ConflictError('email_taken', `a user with email ${email} exists`);
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
    try {
      await this.users.insert(row);
    } catch (err) {
      // Two requests for one email at once both pass the check above; the unique key refuses one.
      if (isUniqueViolation(err)) throw new ConflictError('email_taken', `a user with email ${email} exists`);
      throw err;
    }
    return toUser(row);
  }

  async list(): Promise<User[]> {
    return (await this.users.list()).map(toUser);
  }

  /** Changes a user's role; the last active owner cannot stop being one (checked in the same transaction). */
  async setRole(userId: string, role: Role): Promise<User> {
    const changed = await this.users.transaction(async (users) => {
      const user = await userIn(users, userId);
      if (role !== 'owner') await keepAnOwner(users, user);
      await users.setRole(userId, role);
      return { ...user, role };
    });
    this.accessChanged(userId);
    return changed;
  }

  /**
   * Removes a user's access at once: sign-in refused, sessions ended, API keys revoked. The row
   * stays, so the audit log still says who made past changes.
   */
  async disable(userId: string, actingUserId: string): Promise<User> {
    if (userId === actingUserId)
      throw new ConflictError('self', 'you cannot remove yourself; ask another owner');
    // One transaction: two owners removing each other at once cannot leave no owner.
    const disabled = await this.users.transaction(async (users) => {
      const user = await userIn(users, userId);
      await keepAnOwner(users, user);
      const now = new Date().toISOString();
      await users.disable(userId, now);
      return { ...user, disabledAt: now };
    });
    this.accessChanged(userId);
    return disabled;
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
    await this.users.setPassword(user.id, await hashPassword(input.newPassword), sha256(keepSessionToken));
  }

  /** Checks a signed-in user's password again; wrong ones count toward the lockout (invalid, naming `field`). */
  async reconfirmPassword(user: User, password: string, field: string, address: string): Promise<void> {
    await this.lockout.attempt(user.email, address, async (outcome) => {
      const row = await this.users.byId(user.id);
      if (!row) throw new Error(`user ${user.id} vanished`);
      if (!(await verifyPassword(row.password_hash, password))) {
        outcome.fail();
        throw new ValidationError([{ path: field, message: 'is not your current password' }]);
      }
    });
  }
}

async function userIn(users: UserStore, id: string): Promise<User> {
  const r = await users.byId(id);
  if (!r) throw new NotFoundError(`user ${id}`);
  return toUser(r);
}
