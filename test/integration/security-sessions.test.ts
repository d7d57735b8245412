import { Agent, request } from 'undici';
import { currentTotp } from '../../src/auth/totp';
import { Stack } from '../harness/stack';
import type { ErrorResponse } from '../support/api-types';

/**
 * Cookie sessions on the real API as a browser uses them: a new session id at sign-in and at
 * two-step confirm (the old one refused), sign-out ending the session on the server, the CSRF
 * token on every route that changes data, the cookie's attributes, and the security headers.
 */

/** Requests from 127.0.0.2 come through the "trusted proxy"; those from 127.0.0.1 do not. */
const PROXY_ADDRESS = '127.0.0.2';
let stack: Stack;
let viaProxy: Agent;
let members = 0;

beforeAll(async () => {
  stack = await Stack.start({ name: 'security-sessions', env: { HOOKFLOW_TRUST_PROXY: PROXY_ADDRESS } });
  viaProxy = new Agent({ localAddress: PROXY_ADDRESS });
}, 120_000);
afterAll(async () => {
  await viaProxy?.close();
  await stack?.stop();
});

interface Answer<T> {
  status: number;
  body: T;
  setCookie: string[];
  headers: Headers;
}

interface Browserish {
  cookie?: string;
  csrf?: string;
  headers?: Record<string, string>;
}

/** A request as a browser page sends it: the session cookie, and the CSRF token when given. */
async function browser<T = unknown>(
  method: string,
  path: string,
  as: Browserish,
  body?: unknown,
): Promise<Answer<T>> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(as.cookie ? { cookie: `hookflow_session=${as.cookie}` } : {}),
      ...(as.csrf ? { 'x-csrf-token': as.csrf } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...as.headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json =
    res.headers.get('content-type')?.includes('json') && text ? (JSON.parse(text) as T) : (text as T);
  return { status: res.status, body: json, setCookie: res.headers.getSetCookie(), headers: res.headers };
}

/** The session id a `Set-Cookie` header sets (undefined when it sets none). */
function sessionCookie(setCookie: string[]): string | undefined {
  const line = setCookie.find((c) => c.startsWith('hookflow_session='));
  return line?.slice('hookflow_session='.length).split(';')[0];
}

interface Session {
  token: string;
  csrf: string;
}

/** A new manager (created by the owner), signed in through the API as a browser does. */
async function newMember(): Promise<{ email: string; password: string; session: Session }> {
  members++;
  const email = `member${members}@example.com`;
  const password = `a long password for member ${members}`;
  const made = await stack.requestAs(stack.owner!.session.token, 'POST', '/api/users', {
    email,
    password,
    role: 'manager',
  });
  expect(made.status).toBe(201);
  const signedIn = await browser<Session>('POST', '/api/auth/sign-in', {}, { email, password });
  expect(signedIn.status).toBe(200);
  expect(sessionCookie(signedIn.setCookie)).toBe(signedIn.body.token);
  return { email, password, session: { token: signedIn.body.token, csrf: signedIn.body.csrf } };
}

/** The session as a page sends it: its cookie and its CSRF token. */
const asPage = (s: Session): Browserish => ({ cookie: s.token, csrf: s.csrf });
const me = (s: Session) => browser<{ user: { email: string } }>('GET', '/api/auth/me', { cookie: s.token });

test('signing in sets a new session id and ends the session the browser carried', async () => {
  const m = await newMember();
  // A second sign-in from the same browser (carrying the first cookie) gets a new id; the old one ends.
  const again = await browser<Session>(
    'POST',
    '/api/auth/sign-in',
    { cookie: m.session.token },
    { email: m.email, password: m.password },
  );
  expect(again.status).toBe(200);
  const fresh = sessionCookie(again.setCookie)!;
  expect(fresh).toMatch(/^hfs_/);
  expect(fresh).not.toBe(m.session.token);
  expect((await me(m.session)).status).toBe(401);
  expect((await me({ token: fresh, csrf: again.body.csrf })).body.user.email).toBe(m.email);

  // A planted id (one the server never issued) is never adopted: sign-in answers its own.
  const planted = 'hfs_planted-by-someone-else';
  const over = await browser<Session>(
    'POST',
    '/api/auth/sign-in',
    { cookie: planted },
    { email: m.email, password: m.password },
  );
  expect(sessionCookie(over.setCookie)).not.toBe(planted);
  expect((await me({ token: planted, csrf: '' })).status).toBe(401);
});

test('confirming two-step authentication rotates the session: new id and CSRF token, the old ones refused', async () => {
  const m = await newMember();
  const setup = await browser<{ otpauthUri: string }>(
    'POST',
    '/api/auth/two-step/setup',
    { cookie: m.session.token, csrf: m.session.csrf },
    { password: m.password },
  );
  expect(setup.status).toBe(200);
  const secret = new URL(setup.body.otpauthUri).searchParams.get('secret')!;
  const confirmed = await browser<{ recoveryCodes: string[]; token: string; csrf: string }>(
    'POST',
    '/api/auth/two-step/confirm',
    { cookie: m.session.token, csrf: m.session.csrf },
    { code: currentTotp(secret) },
  );
  expect(confirmed.status).toBe(200);
  expect(confirmed.body.recoveryCodes).toHaveLength(10);
  const rotated = sessionCookie(confirmed.setCookie)!;
  expect(rotated).toBe(confirmed.body.token);
  expect(rotated).not.toBe(m.session.token);
  expect(confirmed.body.csrf).not.toBe(m.session.csrf);

  // The old id no longer works, for reading or for changing anything.
  expect((await me(m.session)).status).toBe(401);
  const oldWrite = await browser('POST', '/api/keys', asPage(m.session), {
    name: 'k',
    scopes: ['flows:read'],
  });
  expect(oldWrite.status).toBe(401);
  // The page with the old cookie sends the user to sign in.
  const page = await browser('GET', '/flows', { cookie: m.session.token });
  expect([page.status, page.headers.get('location')]).toEqual([303, '/sign-in?next=%2Fflows']);

  // The new session works, and only with its own CSRF token.
  const next = { token: rotated, csrf: confirmed.body.csrf };
  expect((await me(next)).body.user.email).toBe(m.email);
  const withOldCsrf = await browser<ErrorResponse>(
    'POST',
    '/api/keys',
    { cookie: next.token, csrf: m.session.csrf },
    { name: 'k', scopes: ['flows:read'] },
  );
  expect([withOldCsrf.status, withOldCsrf.body.error.code]).toEqual([403, 'csrf_failed']);
  const key = await browser(
    'POST',
    '/api/keys',
    { cookie: next.token, csrf: next.csrf },
    {
      name: 'k',
      scopes: ['flows:read'],
    },
  );
  expect(key.status).toBe(201);
});

test('signing out ends the session on the server: the old cookie value is refused afterwards', async () => {
  const m = await newMember();
  // Without the CSRF token, another site cannot sign the user out (nor do anything else).
  const forged = await browser<ErrorResponse>('POST', '/api/auth/sign-out', { cookie: m.session.token });
  expect([forged.status, forged.body.error.code]).toEqual([403, 'csrf_failed']);
  expect((await me(m.session)).status).toBe(200);

  const out = await browser('POST', '/api/auth/sign-out', { cookie: m.session.token, csrf: m.session.csrf });
  expect(out.status).toBe(204);
  // The answer clears the cookie in the browser…
  expect(out.setCookie.find((c) => c.startsWith('hookflow_session='))).toMatch(/Expires=Thu, 01 Jan 1970/);
  // …and a copy of the value kept elsewhere is worth nothing: the server forgot the session.
  expect((await me(m.session)).status).toBe(401);
  expect((await browser('GET', '/flows', { cookie: m.session.token })).status).toBe(303);
  const write = await browser<ErrorResponse>('POST', '/api/flows', asPage(m.session), {
    name: 'after sign-out',
    trigger: { type: 'metric', metric: 'x' },
  });
  expect([write.status, write.body.error.code]).toEqual([401, 'unauthenticated']);
  // As a bearer token, too.
  expect((await stack.requestAs(m.session.token, 'GET', '/api/auth/me')).status).toBe(401);
});

test('every documented route that changes data refuses the session cookie without the CSRF token', async () => {
  const m = await newMember();
  const doc = await stack.requestAs<{ paths: Record<string, Record<string, unknown>> }>(
    undefined,
    'GET',
    '/api/openapi.json',
  );
  // The two routes that start a session are the only ones without the check (a stale cookie must not block them).
  const exempt = new Set(['POST /api/auth/sign-in', 'POST /api/setup']);
  const checked: string[] = [];
  const refusals: Record<string, string> = {};
  for (const [template, item] of Object.entries(doc.body.paths)) {
    for (const method of Object.keys(item)) {
      const verb = method.toUpperCase();
      if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(verb)) continue;
      const route = `${verb} ${template}`;
      if (exempt.has(route)) continue;
      const path = template.replace(/\{\w+\}/g, 'x1');
      const missing = await browser<ErrorResponse>(verb, path, { cookie: m.session.token }, {});
      const wrong = await browser<ErrorResponse>(
        verb,
        path,
        { cookie: m.session.token, csrf: 'not-the-token' },
        {},
      );
      refusals[route] =
        `${missing.status} ${missing.body.error?.code} / ${wrong.status} ${wrong.body.error?.code}`;
      checked.push(route);
    }
  }
  expect(checked.length).toBeGreaterThan(30);
  for (const route of checked)
    expect([route, refusals[route]]).toEqual([route, '403 csrf_failed / 403 csrf_failed']);
  // The session is untouched by all that (sign-out was among the refused).
  expect((await me(m.session)).status).toBe(200);

  // With the token, the same cookie goes through to the route (here: a validation error of its own).
  const withToken = await browser<ErrorResponse>('POST', '/api/flows', asPage(m.session), {});
  expect([withToken.status, withToken.body.error.code]).toEqual([422, 'validation_failed']);
});

test('the session cookie is HttpOnly and SameSite=Lax; Secure only over HTTPS as a trusted proxy reports it', async () => {
  const m = await newMember();
  const creds = JSON.stringify({ email: m.email, password: m.password });
  const signIn = async (from: 'direct' | 'proxy', proto?: string) => {
    const res = await request(`${stack.apiUrl}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(proto ? { 'x-forwarded-proto': proto } : {}) },
      body: creds,
      ...(from === 'proxy' ? { dispatcher: viaProxy } : {}),
    });
    await res.body.text();
    const set = res.headers['set-cookie'];
    return { status: res.statusCode, cookie: (Array.isArray(set) ? set : [set ?? '']).join('\n') };
  };

  const plain = await signIn('direct');
  expect(plain.status).toBe(200);
  expect(plain.cookie).toMatch(
    /^hookflow_session=hfs_[^;]+; Max-Age=43200; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/,
  );
  // A client that is not the trusted proxy cannot claim HTTPS.
  const claimed = await signIn('direct', 'https');
  expect(claimed.cookie).not.toMatch(/Secure/);
  // Through the trusted proxy: Secure when it says the browser used HTTPS, not when it used HTTP.
  const viaHttps = await signIn('proxy', 'https');
  expect(viaHttps.status).toBe(200);
  expect(viaHttps.cookie).toMatch(/; HttpOnly; Secure; SameSite=Lax$/);
  expect((await signIn('proxy', 'http')).cookie).not.toMatch(/Secure/);

  // A failed sign-in sets nothing.
  const failed = await browser('POST', '/api/auth/sign-in', {}, { email: m.email, password: 'not it' });
  expect([failed.status, failed.setCookie]).toEqual([401, []]);
});

test('pages and API answers carry the security headers', async () => {
  const s = stack.owner!.session;
  for (const path of ['/sign-in', '/flows', '/webhooks', '/api/flows', '/assets/layout.js']) {
    // The sign-in page is for people not signed in (a session is sent on to the pages).
    const res = await browser('GET', path, path === '/sign-in' ? {} : { cookie: s.token });
    expect([path, res.status]).toEqual([path, 200]);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).not.toMatch(/unsafe-eval/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  }
  // The pages hold no inline script: only /assets bundles and non-executed JSON data blocks.
  for (const path of ['/sign-in', '/flows', '/webhooks', '/account/two-step']) {
    const html = (await browser<string>('GET', path, path === '/sign-in' ? {} : { cookie: s.token })).body;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inner] of scripts) {
      const external = /\bsrc="\/assets\/[\w-]+\.js"/.test(attrs!) && inner!.trim() === '';
      const data = /\btype="application\/json"/.test(attrs!);
      expect([path, attrs, external || data]).toEqual([path, attrs, true]);
    }
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
  }
});
