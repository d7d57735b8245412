import crypto from 'node:crypto';
import type { SetupTokenStore } from '../db/setup-token-store';
import { ConflictError, ForbiddenError, ValidationError } from '../errors';
import type { Lockout } from './lockout';
import { passwordProblem } from './passwords';
import type { SessionService, StartedSession } from './sessions';
import type { UserService } from './users';
import { sha256 } from './users';

/**
 * First start without a configured owner: a one-time setup token that creates the first owner.
 * Its hash is kept in the database, so a link printed by one API process works on any of them
 * (`make start-cluster` runs two behind one port); the first owner voids every link.
 */
export class FirstOwnerSetup {
  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
    private readonly lockout: Lockout,
    private readonly tokens: SetupTokenStore,
  ) {}

  /** A new setup token; undefined once any user exists. */
  async createToken(): Promise<string | undefined> {
    if ((await this.users.count()) > 0) return undefined;
    const token = crypto.randomBytes(24).toString('base64url');
    await this.tokens.add(sha256(token), new Date().toISOString());
    return token;
  }

  /** Whether a setup link is waiting to be used (no user exists yet). */
  async pending(): Promise<boolean> {
    return (await this.users.count()) === 0 && (await this.tokens.any());
  }

  /** Uses the setup token (once) to create the first owner and signs them in. */
  async complete(
    input: { token: string; email: string; password: string },
    address: string,
  ): Promise<StartedSession> {
    // Setup failures count per address only: nobody can lock the setup link for everyone.
    const addr = `setup:${address}`;
    this.lockout.check(undefined, addr);
    const hash = sha256(input.token);
    if (!(await this.tokens.has(hash))) {
      this.lockout.fail(undefined, addr);
      throw new ForbiddenError('setup_link_invalid', 'this setup link is not valid or was already used');
    }
    const problem = passwordProblem(input.password);
    if (problem) throw new ValidationError([{ path: 'password', message: problem }]);
    // Taken in one statement, so two requests with the same link cannot both create an owner.
    if (!(await this.tokens.take(hash))) {
      throw new ForbiddenError('setup_link_invalid', 'this setup link is not valid or was already used');
    }
    if ((await this.users.count()) > 0)
      throw new ConflictError('setup_done', 'an owner exists already; sign in');
    const owner = await this.users.create({ email: input.email, password: input.password, role: 'owner' });
    await this.tokens.clear();
    return this.sessions.start(owner);
  }
}
