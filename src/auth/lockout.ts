import { RateLimitedError } from '../errors';
import { FailureLimiter } from './rate-limit';

/** What an attempt reports: a wrong guess counts against the account and the address. */
export interface AttemptOutcome {
  fail(): void;
  succeed(): void;
}

/**
 * Guessing limits on passwords and codes: five failures in 15 minutes lock an account for 15
 * minutes; an address gets twenty. In memory, per API process.
 */
export class Lockout {
  private readonly byAccount = new FailureLimiter(5, 15 * 60_000, 15 * 60_000);
  private readonly byAddress = new FailureLimiter(20, 15 * 60_000, 15 * 60_000);

  /** The tail of each account's queue of sign-in and code attempts. */
  private readonly attempts = new Map<string, Promise<unknown>>();

  /** Refuses while the account (when given) or the address is locked out. */
  check(account: string | undefined, address: string): void {
    const wait = Math.max(
      account === undefined ? 0 : this.byAccount.lockedFor(account),
      this.byAddress.lockedFor(address),
    );
    if (wait > 0) {
      throw new RateLimitedError(
        'locked_out',
        `too many failed attempts; try again in ${Math.ceil(wait / 60_000)} minute(s)`,
        Math.ceil(wait / 1000),
      );
    }
  }

  fail(account: string | undefined, address: string): void {
    if (account !== undefined) this.byAccount.fail(account);
    this.byAddress.fail(address);
  }

  /**
   * One attempt on an account's secrets (password or code): one at a time per account, refused
   * while the account or the address is locked, and `fail()` counts a wrong guess against both.
   */
  attempt<T>(email: string, address: string, run: (outcome: AttemptOutcome) => Promise<T>): Promise<T> {
    const account = `acct:${email}`;
    const addr = `addr:${address}`;
    return this.serially(account, () => {
      this.check(account, addr);
      return run({
        fail: () => this.fail(account, addr),
        succeed: () => this.byAccount.succeed(account),
      });
    });
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
}
