import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Accounts } from '../../src/auth/accounts';
import { createAccounts } from '../../src/auth/accounts';
import type { Db } from '../../src/db';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';
import { ConflictError, NotFoundError, RateLimitedError, UnauthenticatedError } from '../../src/errors';
import { SecretBox } from '../../src/secrets';

const PASSWORD = 'correct horse battery staple';
describe.each(TEST_DATABASES)('on %s', (dbKind) => {
  let dir: string;
  let db: Db;
  let accounts: Accounts;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-accounts-'));
    db = await openTestDatabase(dbKind, 'accounts', path.join(dir, 'test.db'));
    accounts = createAccounts(db, new SecretBox([{ id: 'k1', key: crypto.randomBytes(32) }]));
  });
  afterEach(async () => {
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a setup link printed by one API process works on another; the first owner voids every link', async () => {
    // Two API processes on one database, as make start-cluster runs them behind one port.
    const other = createAccounts(db, new SecretBox([{ id: 'k1', key: crypto.randomBytes(32) }]));
    const fromFirst = (await accounts.firstOwner.createToken())!;
    const fromOther = (await other.firstOwner.createToken())!;
    expect(await other.firstOwner.pending()).toBe(true);
    const owner = { email: 'first@example.com', password: PASSWORD };
    const [a, b] = await Promise.allSettled([
      other.firstOwner.complete({ token: fromFirst, ...owner }, '10.0.0.1'),
      accounts.firstOwner.complete({ token: fromFirst, ...owner }, '10.0.0.2'),
    ]);
    // One link, used twice at once: exactly one owner.
    expect([a.status, b.status].sort()).toEqual(['fulfilled', 'rejected']);
    expect(await accounts.users.list()).toHaveLength(1);
    expect(await accounts.firstOwner.pending()).toBe(false);
    await expect(
      other.firstOwner.complete(
        { token: fromOther, email: 'late@example.com', password: PASSWORD },
        '10.0.0.3',
      ),
    ).rejects.toMatchObject({ code: 'setup_link_invalid' });
  });

  test('guesses sent at once run one at a time: five count, the rest meet the lockout', async () => {
    await accounts.users.create({ email: 'ada@example.com', password: PASSWORD, role: 'owner' });
    const guesses = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        accounts.sessions.signIn({ email: 'ada@example.com', password: `wrong password ${i}` }, '10.0.0.1'),
      ),
    );
    const reasons = guesses.map((g) => (g.status === 'rejected' ? (g.reason as Error) : undefined));
    expect(reasons.filter((r) => r instanceof UnauthenticatedError)).toHaveLength(5);
    const locked = reasons.filter((r) => r instanceof RateLimitedError);
    expect(locked).toHaveLength(3);
    expect(locked[0]).toMatchObject({ code: 'locked_out', retryAfterSeconds: 900 });
    // The right password is refused too while the account is locked.
    await expect(
      accounts.sessions.signIn({ email: 'ada@example.com', password: PASSWORD }, '10.0.0.2'),
    ).rejects.toBeInstanceOf(RateLimitedError);
  });

  test('two requests creating one email at once: one user, the other a conflict (the unique key decides)', async () => {
    const both = await Promise.allSettled(
      [1, 2].map(() =>
        accounts.users.create({ email: 'twin@example.com', password: PASSWORD, role: 'analyst' }),
      ),
    );
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = both.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(ConflictError);
    expect((await accounts.users.list()).filter((u) => u.email === 'twin@example.com')).toHaveLength(1);
  });

  test('the last owner can be neither demoted nor removed; two owners removing each other leave one', async () => {
    const a = await accounts.users.create({ email: 'a@example.com', password: PASSWORD, role: 'owner' });
    await expect(accounts.users.setRole(a.id, 'admin')).rejects.toMatchObject({ code: 'last_owner' });
    const b = await accounts.users.create({ email: 'b@example.com', password: PASSWORD, role: 'owner' });
    const both = await Promise.allSettled([
      accounts.users.disable(a.id, b.id),
      accounts.users.disable(b.id, a.id),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = both.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(ConflictError);
    expect((await accounts.users.list()).filter((u) => !u.disabledAt)).toHaveLength(1);
  });

  test('a removed user loses sessions and keys at once; revoking a key again is not found', async () => {
    const owner = await accounts.users.create({ email: 'o@example.com', password: PASSWORD, role: 'owner' });
    const user = await accounts.users.create({ email: 'u@example.com', password: PASSWORD, role: 'manager' });
    const session = await accounts.sessions.signIn(
      { email: 'u@example.com', password: PASSWORD },
      '10.0.0.3',
    );
    const key = await accounts.apiKeys.create(user, 'ci', ['events:write']);
    expect((await accounts.authenticate(session.token))?.kind).toBe('session');
    expect((await accounts.authenticate(key.key))?.kind).toBe('api_key');
    await accounts.users.disable(user.id, owner.id);
    expect(await accounts.authenticate(session.token)).toBeUndefined();
    expect(await accounts.authenticate(key.key)).toBeUndefined();
    await expect(accounts.apiKeys.revoke(user, key.id)).rejects.toBeInstanceOf(NotFoundError);
  });
  test('a remembered API key: a revocation or role change counts at once here, within the bound on another process', async () => {
    let clock = 1_000_000;
    const cached = () =>
      createAccounts(db, new SecretBox([{ id: 'k1', key: crypto.randomBytes(32) }]), {
        cacheMs: 2000,
        now: () => clock,
      });
    // Two API processes on one database, each remembering verified keys for 2 s.
    const here = cached();
    const there = cached();
    const owner = await here.users.create({ email: 'o@example.com', password: PASSWORD, role: 'owner' });
    const user = await here.users.create({ email: 'u@example.com', password: PASSWORD, role: 'manager' });
    const key = await here.apiKeys.create(user, 'ci', ['events:write']);
    const kept = await here.apiKeys.create(user, 'kept', ['events:write']);
    expect((await here.authenticate(key.key))?.user.role).toBe('manager');
    expect((await there.authenticate(key.key))?.user.role).toBe('manager');

    // A wrong secret with the right id is refused, remembered key or not.
    const forged = `${key.key.slice(0, -4)}AAAA`;
    expect(forged).not.toBe(key.key);
    expect(await here.authenticate(forged)).toBeUndefined();

    await here.users.setRole(user.id, 'analyst');
    expect((await here.authenticate(key.key))?.user.role).toBe('analyst');
    expect((await there.authenticate(key.key))?.user.role).toBe('manager');
    clock += 2001;
    expect((await there.authenticate(key.key))?.user.role).toBe('analyst');

    await here.apiKeys.revoke(user, key.id);
    expect(await here.authenticate(key.key)).toBeUndefined();
    expect((await here.authenticate(kept.key))?.kind).toBe('api_key');
    expect((await there.authenticate(key.key))?.kind).toBe('api_key');
    clock += 2001;
    expect(await there.authenticate(key.key)).toBeUndefined();

    expect((await there.authenticate(kept.key))?.kind).toBe('api_key');
    await here.users.disable(user.id, owner.id);
    expect(await here.authenticate(kept.key)).toBeUndefined();
    clock += 2001;
    expect(await there.authenticate(kept.key)).toBeUndefined();
  });

  test('without a cache bound every request reads the key: a revocation elsewhere counts at once', async () => {
    const here = accounts;
    const there = createAccounts(db, new SecretBox([{ id: 'k1', key: crypto.randomBytes(32) }]));
    const user = await here.users.create({ email: 'u@example.com', password: PASSWORD, role: 'owner' });
    const key = await here.apiKeys.create(user, 'ci', ['events:write']);
    expect((await there.authenticate(key.key))?.kind).toBe('api_key');
    await here.apiKeys.revoke(user, key.id);
    expect(await there.authenticate(key.key)).toBeUndefined();
  });
});
