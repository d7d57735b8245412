import type { UserRow, UserStore } from '../db/user-store';
import { ConflictError, ValidationError } from '../errors';
import type { SealedValue, SecretBox } from '../secrets';
import type { Lockout } from './lockout';
import type { User } from '../permissions';
import { createRecoveryCodes, createTotpSetup, matchRecoveryCode, verifyTotp } from './totp';
import type { UserService } from './users';

/** Two-step authentication: TOTP setup and confirmation, recovery codes, turning it off. */
export class TwoStepService {
  constructor(
    private readonly users: UserStore,
    private readonly accounts: UserService,
    private readonly lockout: Lockout,
    private readonly secrets: SecretBox,
    /** Told after two-step authentication went on or off (what the user's API keys may do changes). */
    private readonly accessChanged: (userId: string) => void = () => {},
  ) {}

  /**
   * Starts two-step setup. The password is asked again, so a session taken from someone (rather
   * than their password) cannot enrol the taker's authenticator.
   */
  async setup(user: User, password: string, address: string): Promise<{ otpauthUri: string; qrSvg: string }> {
    if (user.twoStepEnabled)
      throw new ConflictError('two_step_enabled', 'two-step authentication is already on; disable it first');
    await this.accounts.reconfirmPassword(user, password, 'password', address);
    const setup = await createTotpSetup(user.email);
    await this.users.setPendingTotp(user.id, JSON.stringify(this.secrets.seal(setup.secret)));
    return { otpauthUri: setup.uri, qrSvg: setup.qrSvg };
  }

  /** Turns two-step authentication on with a first code; returns the recovery codes, shown once. */
  async confirm(user: User, code: string): Promise<{ recoveryCodes: string[] }> {
    const row = await this.rowOf(user);
    if (!row.totp_pending) throw new ConflictError('no_setup', 'start with POST /api/auth/two-step/setup');
    const secret = this.secrets.open(JSON.parse(row.totp_pending) as SealedValue);
    const step = verifyTotp(secret, code);
    if (step === undefined)
      throw new ValidationError(
        [],
        'the code is wrong; check the time on your device',
        undefined,
        'invalid_code',
      );
    const { codes, hashes } = createRecoveryCodes();
    await this.users.enableTotp(user.id, row.totp_pending, step, hashes);
    this.accessChanged(user.id);
    return { recoveryCodes: codes };
  }

  /** Turning two-step authentication off takes a current code (or a recovery code); guesses count toward the lockout. */
  async disable(user: User, code: string, address: string): Promise<void> {
    await this.lockout.attempt(user.email, address, async (outcome) => {
      const row = await this.rowOf(user);
      if (!row.totp_secret) throw new ConflictError('two_step_disabled', 'two-step authentication is not on');
      if (!(await this.checkCode(row, code))) {
        outcome.fail();
        throw new ValidationError([], 'the code is wrong or was already used', undefined, 'invalid_code');
      }
      await this.users.disableTotp(user.id);
      this.accessChanged(user.id);
    });
  }

  /** Checks a TOTP code, or a recovery code (used once); records the step so codes are not replayed. */
  async checkCode(row: UserRow, code: string): Promise<boolean> {
    if (!row.totp_secret) return false;
    const secret = this.secrets.open(JSON.parse(row.totp_secret) as SealedValue);
    const step = verifyTotp(secret, code, row.totp_last_step);
    // Only one request can move the step forward (or use a recovery code): a replay in flight loses.
    if (step !== undefined) return this.users.advanceTotpStep(row.id, step);
    const codes = await this.users.unusedRecoveryCodes(row.id);
    const i = matchRecoveryCode(
      code,
      codes.map((c) => c.code_hash),
    );
    return i >= 0 && this.users.useRecoveryCode(codes[i]!.id);
  }

  private async rowOf(user: User): Promise<UserRow> {
    const row = await this.users.byId(user.id);
    if (!row) throw new Error(`user ${user.id} vanished`);
    return row;
  }
}
