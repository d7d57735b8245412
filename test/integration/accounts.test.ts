import { currentTotp } from '../../src/auth/totp';
import { Stack } from '../harness/stack';
import type { ErrorResponse } from '../support/api-types';

/** Accounts on the real API: first owner from config, sign-in, TOTP with real codes, recovery codes, API keys, lockout. */

const OWNER = { email: 'owner@example.com', password: 'a long owner password' };
let stack: Stack;
/** The owner's unused recovery codes, for tests that sign in again without waiting for a new TOTP step. */
let ownerRecoveryCodes: string[] = [];

interface SignedIn {
  token: string;
  csrf: string;
  user: { id: string; email: string; role: string; twoStepEnabled: boolean };
}

async function call<T>(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

const secretOf = (uri: string) => new URL(uri).searchParams.get('secret')!;
/** The next code the server has not seen: codes are accepted once per 30-second step. */
const nextStepCode = async (secret: string) => {
  const step = Math.floor(Date.now() / 30_000);
  while (Math.floor(Date.now() / 30_000) === step) await new Promise((r) => setTimeout(r, 250));
  return currentTotp(secret);
};

beforeAll(async () => {
  stack = await Stack.start({
    name: 'accounts',
    auth: 'none',
    env: { HOOKFLOW_OWNER_EMAIL: OWNER.email, HOOKFLOW_OWNER_PASSWORD: OWNER.password },
  });
}, 120_000);
afterAll(() => stack?.stop());

test('the first owner signs in, sets up TOTP with a real code, and then needs a code to sign in', async () => {
  const first = await call<SignedIn>('POST', '/api/auth/sign-in', undefined, OWNER);
  expect(first.status).toBe(200);
  expect(first.body.user).toMatchObject({ email: OWNER.email, role: 'owner', twoStepEnabled: false });
  expect(first.headers.get('set-cookie')).toMatch(/hookflow_session=.*HttpOnly.*SameSite=Lax/i);
  const token = first.body.token;

  // Setup asks for the password again (a session alone cannot enrol an authenticator).
  const noPassword = await call<ErrorResponse>('POST', '/api/auth/two-step/setup', token, {});
  expect([noPassword.status, noPassword.body.error.details[0]?.path]).toEqual([422, 'password']);
  const setup = await call<{ otpauthUri: string; qrSvg: string }>('POST', '/api/auth/two-step/setup', token, {
    password: OWNER.password,
  });
  expect(setup.body.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
  expect(setup.body.qrSvg).toMatch(/^<svg/);
  const secret = secretOf(setup.body.otpauthUri);
  const wrong = await call<ErrorResponse>('POST', '/api/auth/two-step/confirm', token, { code: '000000' });
  expect(wrong.status).toBe(422);
  const confirmed = await call<{ recoveryCodes: string[] }>('POST', '/api/auth/two-step/confirm', token, {
    code: currentTotp(secret),
  });
  expect(confirmed.body.recoveryCodes).toHaveLength(10);
  ownerRecoveryCodes = confirmed.body.recoveryCodes.slice(1);

  const noCode = await call<ErrorResponse>('POST', '/api/auth/sign-in', undefined, OWNER);
  expect(noCode.status).toBe(401);
  expect(noCode.body.error.code).toBe('two_step_code_required');
  const withCode = await call<SignedIn>('POST', '/api/auth/sign-in', undefined, {
    ...OWNER,
    code: await nextStepCode(secret),
  });
  expect(withCode.status).toBe(200);
  expect(withCode.body.user.twoStepEnabled).toBe(true);

  // A recovery code works once.
  const recovery = confirmed.body.recoveryCodes[0]!;
  expect((await call('POST', '/api/auth/sign-in', undefined, { ...OWNER, code: recovery })).status).toBe(200);
  const again = await call<ErrorResponse>('POST', '/api/auth/sign-in', undefined, {
    ...OWNER,
    code: recovery,
  });
  expect(again.body.error.code).toBe('invalid_code');

  // Users and API keys: shown once, scoped, revocable, last use recorded.
  const staff = await call<{ id: string; role: string }>('POST', '/api/users', withCode.body.token, {
    email: 'analyst@example.com',
    password: 'an analyst password',
    role: 'analyst',
  });
  expect(staff.status).toBe(201);
  const key = await call<{ id: string; key: string; scopes: string[] }>(
    'POST',
    '/api/keys',
    withCode.body.token,
    {
      name: 'ingest',
      scopes: ['events:write'],
    },
  );
  expect(key.status).toBe(201);
  expect(key.body.key).toMatch(/^hfk_[0-9a-f]{12}_/);
  const me = await call<{ via: string; scopes: string[] }>('GET', '/api/auth/me', key.body.key);
  expect(me.body).toMatchObject({ via: 'api_key', scopes: ['events:write'] });
  const listed = await call<{ keys: { id: string; lastUsedAt: string | null }[] }>(
    'GET',
    '/api/keys',
    withCode.body.token,
  );
  expect(JSON.stringify(listed.body)).not.toContain(key.body.key);
  expect(listed.body.keys[0]!.lastUsedAt).not.toBeNull();
  expect((await call('GET', '/api/keys', key.body.key)).status).toBe(403); // keys do not manage keys
  expect((await call('DELETE', `/api/keys/${key.body.id}`, withCode.body.token)).status).toBe(204);
  expect((await call('GET', '/api/auth/me', key.body.key)).status).toBe(401);

  // Disabling two-step authentication takes a current code.
  const badDisable = await call<ErrorResponse>('POST', '/api/auth/two-step/disable', withCode.body.token, {
    code: '123456',
  });
  expect(badDisable.status).toBe(422);
  expect((await call('POST', '/api/auth/sign-out', withCode.body.token)).status).toBe(204);
  expect((await call('GET', '/api/auth/me', withCode.body.token)).status).toBe(401);
}, 90_000);

test('only owners manage users', async () => {
  const analyst = await call<SignedIn>('POST', '/api/auth/sign-in', undefined, {
    email: 'analyst@example.com',
    password: 'an analyst password',
  });
  expect(analyst.status).toBe(200);
  const denied = await call<ErrorResponse>('POST', '/api/users', analyst.body.token, {
    email: 'x@example.com',
    password: 'another long password',
    role: 'owner',
  });
  expect(denied.status).toBe(403);
  expect(denied.body.error.code).toBe('role_forbidden');
});

test('an owner removes a user: sign-in, sessions and keys stop at once; the last owner stays', async () => {
  const owner = await call<SignedIn>('POST', '/api/auth/sign-in', undefined, {
    ...OWNER,
    code: ownerRecoveryCodes.shift(),
  });
  expect(owner.status).toBe(200);
  const t = owner.body.token;
  const leaver = { email: 'leaver@example.com', password: 'a leaver password' };
  const created = await call<{ id: string }>('POST', '/api/users', t, { ...leaver, role: 'manager' });
  const session = await call<SignedIn>('POST', '/api/auth/sign-in', undefined, leaver);
  const key = await call<{ key: string }>('POST', '/api/keys', session.body.token, {
    name: 'k',
    scopes: ['flows:read'],
  });
  expect((await call('GET', '/api/flows', key.body.key)).status).toBe(200);

  const removed = await call<{ disabledAt: string | null }>('DELETE', `/api/users/${created.body.id}`, t);
  expect(removed.status).toBe(200);
  expect(removed.body.disabledAt).not.toBeNull();
  expect((await call('GET', '/api/auth/me', session.body.token)).status).toBe(401);
  expect((await call('GET', '/api/flows', key.body.key)).status).toBe(401);
  const again = await call<ErrorResponse>('POST', '/api/auth/sign-in', undefined, leaver);
  expect([again.status, again.body.error.code]).toEqual([401, 'invalid_credentials']);
  const users = await call<{ users: { email: string; disabledAt: string | null }[] }>('GET', '/api/users', t);
  expect(users.body.users.find((u) => u.email === leaver.email)?.disabledAt).not.toBeNull();

  // The only owner can neither be demoted nor removed (not even by themselves).
  const me = await call<{ user: { id: string } }>('GET', '/api/auth/me', t);
  const demote = await call<ErrorResponse>('PATCH', `/api/users/${me.body.user.id}`, t, { role: 'admin' });
  expect([demote.status, demote.body.error.code]).toEqual([409, 'last_owner']);
  const self = await call<ErrorResponse>('DELETE', `/api/users/${me.body.user.id}`, t);
  expect([self.status, self.body.error.code]).toEqual([409, 'self']);
  const unknown = await call<ErrorResponse>('DELETE', '/api/users/usr_nobody', t);
  expect(unknown.status).toBe(404);
});

test('guesses sent all at once still stop at the lockout; so do guesses of the code that turns two-step off', async () => {
  const owner = await call<SignedIn>('POST', '/api/auth/sign-in', undefined, {
    ...OWNER,
    code: ownerRecoveryCodes.shift(),
  });
  const target = { email: 'parallel@example.com', password: 'a parallel password' };
  expect((await call('POST', '/api/users', owner.body.token, { ...target, role: 'manager' })).status).toBe(
    201,
  );
  const session = await call<SignedIn>('POST', '/api/auth/sign-in', undefined, target);
  const setup = await call<{ otpauthUri: string }>('POST', '/api/auth/two-step/setup', session.body.token, {
    password: target.password,
  });
  // Confirming rotates the session; the new token is the one that goes on.
  const confirmed = await call<SignedIn>('POST', '/api/auth/two-step/confirm', session.body.token, {
    code: currentTotp(secretOf(setup.body.otpauthUri)),
  });

  // A stolen session guessing the code that turns two-step off is locked out after five tries.
  const disables = [];
  for (let i = 0; i < 6; i++) {
    disables.push(
      (
        await call<ErrorResponse>('POST', '/api/auth/two-step/disable', confirmed.body.token, {
          code: `00000${i}`,
        })
      ).status,
    );
  }
  expect(disables).toEqual([422, 422, 422, 422, 422, 429]);

  const other = { email: 'parallel2@example.com', password: 'another parallel password' };
  expect((await call('POST', '/api/users', owner.body.token, { ...other, role: 'analyst' })).status).toBe(
    201,
  );
  const statuses = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      call('POST', '/api/auth/sign-in', undefined, { email: other.email, password: `wrong guess ${i}` }),
    ),
  );
  const counts = statuses.reduce<Record<number, number>>(
    (m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }),
    {},
  );
  expect(counts).toEqual({ 401: 5, 429: 7 });
});

test('repeated wrong passwords lock the account with a clear message, even for the right password', async () => {
  const victim = { email: 'analyst@example.com', password: 'wrong password!!' };
  for (let i = 0; i < 5; i++) {
    expect((await call('POST', '/api/auth/sign-in', undefined, victim)).status).toBe(401);
  }
  const locked = await call<ErrorResponse & { retryAfterSeconds: number }>(
    'POST',
    '/api/auth/sign-in',
    undefined,
    {
      email: 'analyst@example.com',
      password: 'an analyst password',
    },
  );
  expect(locked.status).toBe(429);
  expect(locked.body.error.code).toBe('locked_out');
  expect(locked.body.error.message).toMatch(/try again in \d+ minute/);
  expect(locked.body.retryAfterSeconds).toBeGreaterThan(0);
  // Unknown accounts answer like wrong passwords.
  const unknown = await call<ErrorResponse>('POST', '/api/auth/sign-in', undefined, {
    email: 'nobody@example.com',
    password: 'x',
  });
  expect(unknown.body.error.code).toBe('invalid_credentials');
});

test('passwords and codes never reach the logs', () => {
  expect(stack.logs).not.toContain(OWNER.password);
  expect(stack.logs).not.toContain('an analyst password');
});
