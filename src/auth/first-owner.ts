import crypto from 'node:crypto';
import { ConflictError, ForbiddenError, ValidationError } from '../errors';
import type { Lockout } from './lockout';
import { passwordProblem } from './passwords';
import type { SessionService, StartedSession } from './sessions';
import type { UserService } from './users';
import { sha256 } from './users';

/**
 * First start without a configured owner: a one-time setup token (held in memory, hashed) that
 * creates the first owner.
 */
export class FirstOwnerSetup {
  private tokenHash: string | undefined;

  constructor(
    private readonly users: UserService,
    private readonly sessions: SessionService,
    private readonly lockout: Lockout,
  ) {}

  /** A new setup token; undefined once any user exists. */
  async createToken(): Promise<string | undefined> {
    if ((await this.users.count()) > 0) return undefined;
    const token = crypto.randomBytes(24).toString('base64url');
    this.tokenHash = sha256(token);
    return token;
  }

  get pending(): boolean {
    return this.tokenHash !== undefined;
  }

  /** Uses the setup token (once) to create the first owner and signs them in. */
  async complete(
    input: { token: string; email: string; password: string },
    address: string,
  ): Promise<StartedSession> {
    // Setup failures count per address only: nobody can lock the setup link for everyone.
    const addr = `setup:${address}`;
    this.lockout.check(undefined, addr);
    const expected = this.tokenHash;
    const a = Buffer.from(sha256(input.token), 'hex');
    if (!expected || !crypto.timingSafeEqual(a, Buffer.from(expected, 'hex'))) {
      this.lockout.fail(undefined, addr);
      throw new ForbiddenError('setup_link_invalid', 'this setup link is not valid or was already used');
    }
    const problem = passwordProblem(input.password);
    if (problem) throw new ValidationError([{ path: 'password', message: problem }]);
    // Consumed before any await, so two requests with the same link cannot both create an owner.
    this.tokenHash = undefined;
    if ((await this.users.count()) > 0)
      throw new ConflictError('setup_done', 'an owner exists already; sign in');
    return this.sessions.start(
      await this.users.create({ email: input.email, password: input.password, role: 'owner' }),
    );
  }
}
