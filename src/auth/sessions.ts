import crypto from 'node:crypto';
import type { SessionStore } from '../db/session-store';
import type { UserStore } from '../db/user-store';
import { UnauthenticatedError } from '../errors';
import type { Lockout } from './lockout';
import { decoyHash, verifyPassword } from './passwords';
import type { Principal, User } from '../permissions';
import type { TwoStepService } from './two-step';
import { sha256, toUser } from './users';

export const SESSION_TTL_MS = 12 * 3600 * 1000;

export interface StartedSession {
  token: string;
  csrf: string;
  expiresAt: string;
  user: User;
}

/** Sessions: sign-in (with the two-step code), sign-out, and the session behind a cookie or token. */
export class SessionService {
  constructor(
    private readonly sessions: SessionStore,
    private readonly users: UserStore,
    private readonly twoStep: TwoStepService,
    private readonly lockout: Lockout,
  ) {}

  /** Signs in; with two-step authentication on, a code (or a recovery code) is required too. */
  signIn(
    input: { email: string; password: string; code?: string },
    address: string,
  ): Promise<StartedSession> {
    const email = input.email.trim().toLowerCase();
    return this.lockout.attempt(email, address, async (outcome) => {
      const row = await this.users.byEmail(email);
      const ok = row
        ? await verifyPassword(row.password_hash, input.password)
        : await verifyPassword(await decoyHash(), input.password);
      if (!row || !ok || row.disabled_at) {
        outcome.fail();
        throw new UnauthenticatedError('invalid_credentials', 'the email or the password is wrong');
      }
      if (row.totp_secret) {
        if (!input.code)
          throw new UnauthenticatedError(
            'two_step_code_required',
            'enter the code from your authenticator app (or a recovery code)',
          );
        if (!(await this.twoStep.checkCode(row, input.code))) {
          outcome.fail();
          throw new UnauthenticatedError('invalid_code', 'the code is wrong or was already used');
        }
      }
      outcome.succeed();
      return this.start(toUser(row));
    });
  }

  async start(user: User): Promise<StartedSession> {
    const token = `hfs_${crypto.randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    const session = {
      token_hash: sha256(token),
      user_id: user.id,
      csrf: crypto.randomBytes(18).toString('base64url'),
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + SESSION_TTL_MS).toISOString(),
    };
    await this.sessions.insert(session);
    // Expired sessions are of no use to anyone; clear them as new ones start.
    await this.sessions.deleteExpired(session.created_at);
    return { token, csrf: session.csrf, expiresAt: session.expires_at, user };
  }

  /**
   * A new session for the same user, ending `oldToken`'s: called when the session's privilege
   * changes (two-step authentication turned on), so an id someone planted or saw before no longer works.
   */
  async rotate(oldToken: string, user: User): Promise<StartedSession> {
    const fresh = await this.start(user);
    await this.signOut(oldToken);
    return fresh;
  }

  async signOut(token: string): Promise<void> {
    await this.sessions.delete(sha256(token));
  }

  /** The session's principal; undefined when unknown, expired or its user removed. */
  async principalOf(token: string): Promise<Principal | undefined> {
    const s = await this.sessions.withUser(sha256(token));
    if (!s || s.disabled_at || s.expires_at <= new Date().toISOString()) return undefined;
    return { kind: 'session', user: toUser(s), csrf: s.csrf };
  }
}
