import { currentTotp } from '../../src/auth/totp';
import type { Role } from '../../src/permissions';
import { ROLES } from '../../src/permissions';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import type { ApiResponse } from '../harness/stack';
import path from 'node:path';
import { ARTIFACTS, Stack } from '../harness/stack';
import { launchBrowser, signInThroughPage } from '../support/browser';
import type { ErrorResponse, PublicFlow } from '../support/api-types';
import { createLiveFlow, startOneRun, uniqueMetric, waitForRun } from '../support/flows';

/**
 * Who may do what, on the real API: every role × two-step on/off × action, by session and by API
 * key; API key scopes, demotion and revocation; CSRF on cookie sessions; the audit log.
 */

const WRITERS: readonly Role[] = ['owner', 'admin', 'manager'];
type WebhookView = Extract<PublicFlow['steps'][number], { type: 'webhook' }>;
const SECRET = 'sk_live_authz_SECRET_9f3a1c';

interface Member {
  role: Role;
  twoStep: boolean;
  email: string;
  password: string;
  id: string;
  session: { token: string; csrf: string };
  key: string;
  recoveryCodes: string[];
}

let stack: Stack;
let receiver: Receiver;
let skippedDelivery: string;
const members: Member[] = [];
const metric = uniqueMetric('Authz');

async function must<T>(r: Promise<ApiResponse<T>>, status: number, what: string): Promise<T> {
  const res = await r;
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The owner creates a user; the user signs in, optionally turns on two-step, and makes a key. */
async function addMember(role: Role, twoStep: boolean, label = 'matrix'): Promise<Member> {
  const email = `${role}-${twoStep ? '2fa' : 'no2fa'}-${label}@example.com`;
  const password = `password for ${email}`;
  const user = await must(
    stack.requestAs<{ id: string }>(stack.owner!.session.token, 'POST', '/api/users', {
      email,
      password,
      role,
    }),
    201,
    'create user',
  );
  let session = await must(
    stack.requestAs<{ token: string; csrf: string }>(undefined, 'POST', '/api/auth/sign-in', {
      email,
      password,
    }),
    200,
    'sign in',
  );
  let recoveryCodes: string[] = [];
  if (twoStep) {
    const setup = await must(
      stack.requestAs<{ otpauthUri: string }>(session.token, 'POST', '/api/auth/two-step/setup', {
        password,
      }),
      200,
      'setup',
    );
    const secret = new URL(setup.otpauthUri).searchParams.get('secret')!;
    // Confirming rotates the session: the old token ends, the answer carries the new one.
    const confirmed = await must(
      stack.requestAs<{ recoveryCodes: string[]; token: string; csrf: string }>(
        session.token,
        'POST',
        '/api/auth/two-step/confirm',
        { code: currentTotp(secret) },
      ),
      200,
      'confirm',
    );
    recoveryCodes = confirmed.recoveryCodes;
    session = { token: confirmed.token, csrf: confirmed.csrf };
  }
  const key = await must(
    stack.requestAs<{ key: string }>(session.token, 'POST', '/api/keys', {
      name: 'all scopes',
      scopes: ['events:write', 'flows:read', 'flows:write', 'analytics:read'],
    }),
    201,
    'key',
  );
  return { role, twoStep, email, password, id: user.id, session, key: key.key, recoveryCodes };
}

const webhookStep = (url: string) => ({
  id: 'hook',
  type: 'webhook',
  name: 'CRM',
  url,
  headers: { 'X-Api-Key': SECRET },
  body: '{"email": "{{ person.email }}"}',
});

/** A draft flow of the owner's, with one webhook step, for a member to try changing. */
async function ownerDraft(): Promise<PublicFlow> {
  return must(
    stack.request<PublicFlow>('POST', '/api/flows', {
      name: 'draft for the matrix',
      trigger: { type: 'metric', metric: uniqueMetric('Draft') },
      status: 'draft',
      steps: [webhookStep(receiver.url('/crm'))],
    }),
    201,
    'owner draft',
  );
}

function expectRefused(res: ApiResponse<unknown>, code: string): void {
  expect({ status: res.status, code: (res.body as ErrorResponse).error?.code }).toEqual({
    status: 403,
    code,
  });
}

/** What the rule says a member gets for a webhook action. */
function webhookVerdict(m: Member): 'ok' | 'role_forbidden' | 'two_step_required' {
  if (!WRITERS.includes(m.role)) return 'role_forbidden';
  return m.twoStep ? 'ok' : 'two_step_required';
}

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  // As behind a reverse proxy on the same host: the client's address and scheme come from X-Forwarded-*.
  stack = await Stack.start({
    name: 'authorization',
    caCert: pki.caCert,
    env: { HOOKFLOW_TRUST_PROXY: 'loopback' },
  });
  receiver.script('/gone', { status: 410, body: 'gone' });
  const flow = await createLiveFlow(stack, metric, [{ ...webhookStep(receiver.url('/gone')), id: 'gone' }]);
  const run = await waitForRun(stack, await startOneRun(stack, metric));
  expect(run.steps[0]!.status).toBe('skipped');
  skippedDelivery = run.steps[0]!.deliveryId!;
  expect(flow.id).toMatch(/^flw_/);
  for (const role of ROLES) for (const twoStep of [false, true]) members.push(await addMember(role, twoStep));
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

describe.each([
  ['session', (m: Member) => m.session.token],
  ['API key', (m: Member) => m.key],
] as const)('the matrix, signed in by %s', (_via, tokenOf) => {
  test('every role reads flows, analytics and runs', async () => {
    for (const m of members) {
      const t = tokenOf(m);
      expect([m.email, (await stack.requestAs(t, 'GET', '/api/flows')).status]).toEqual([m.email, 200]);
      expect([m.email, (await stack.requestAs(t, 'GET', '/api/webhooks/stats')).status]).toEqual([
        m.email,
        200,
      ]);
      expect([
        m.email,
        (await stack.requestAs(t, 'GET', '/api/webhooks/deliveries?status=skipped')).status,
      ]).toEqual([m.email, 200]);
    }
  });

  test('events and flows without webhooks: managers and above; analysts and support are refused', async () => {
    for (const m of members) {
      const t = tokenOf(m);
      const event = await stack.requestAs(t, 'POST', '/api/events', {
        metric: uniqueMetric('Nobody listens'),
        profile: { email: 'a@example.com' },
      });
      const flow = await stack.requestAs(t, 'POST', '/api/flows', {
        name: 'only a delay',
        trigger: { type: 'metric', metric: 'Placed Order' },
        steps: [{ type: 'delay', seconds: 60 }],
      });
      if (WRITERS.includes(m.role)) {
        expect([m.email, event.status, flow.status]).toEqual([m.email, 202, 201]);
      } else {
        expectRefused(event, 'role_forbidden');
        expectRefused(flow, 'role_forbidden');
      }
    }
  });

  test('adding a webhook step, and changing its URL, headers or body follow the webhook rule', async () => {
    for (const m of members) {
      const t = tokenOf(m);
      const verdict = webhookVerdict(m);
      const add = await stack.requestAs(t, 'POST', '/api/flows', {
        name: 'with a webhook',
        trigger: { type: 'metric', metric: 'Placed Order' },
        steps: [webhookStep(receiver.url('/crm'))],
      });
      const results: Record<string, ApiResponse<unknown>> = { add };
      for (const field of ['url', 'headers', 'body'] as const) {
        // A fresh draft for each field, so each save changes exactly one field of the step.
        const draft = await ownerDraft();
        const base = draft.steps[0] as WebhookView;
        const changed = {
          url: { ...base, url: receiver.url('/crm-v2') },
          headers: { ...base, headers: { 'X-Api-Key': 'a different secret value' } },
          body: { ...base, body: '{"email": "{{ person.email }}", "v": 2}' },
        }[field];
        results[field] = await stack.requestAs(t, 'PATCH', `/api/flows/${draft.id}`, { steps: [changed] });
      }
      for (const [action, res] of Object.entries(results)) {
        if (verdict === 'ok') {
          expect([m.email, action, res.status]).toEqual([m.email, action, action === 'add' ? 201 : 200]);
        } else {
          expect([m.email, action, res.status, (res.body as ErrorResponse).error.code]).toEqual([
            m.email,
            action,
            403,
            verdict,
          ]);
        }
      }
    }
  });

  test('renaming a webhook step needs write access but not two-step authentication', async () => {
    for (const m of members) {
      const draft = await ownerDraft();
      const base = draft.steps[0]!;
      const res = await stack.requestAs(tokenOf(m), 'PATCH', `/api/flows/${draft.id}`, {
        steps: [{ ...base, name: 'CRM (renamed)' }],
      });
      if (WRITERS.includes(m.role)) expect([m.email, res.status]).toEqual([m.email, 200]);
      else expectRefused(res, 'role_forbidden');
    }
  });

  test('test sends and resends follow the webhook rule', async () => {
    receiver.script('/crm', { status: 200 });
    const draft = await ownerDraft();
    for (const m of members) {
      const t = tokenOf(m);
      const verdict = webhookVerdict(m);
      const sent = await stack.requestAs(t, 'POST', `/api/flows/${draft.id}/steps/hook/test`, {});
      const resend = await stack.requestAs(t, 'POST', `/api/webhooks/deliveries/${skippedDelivery}/resend`);
      const bulk = await stack.requestAs(t, 'POST', '/api/webhooks/deliveries/resend', { status: 'skipped' });
      if (verdict === 'ok') {
        expect([m.email, sent.status, resend.status, bulk.status]).toEqual([m.email, 200, 202, 202]);
      } else {
        for (const res of [sent, resend, bulk]) expectRefused(res, verdict);
      }
    }
  });

  test('the audit log is for admins and owners', async () => {
    for (const m of members) {
      const res = await stack.requestAs(tokenOf(m), 'GET', '/api/audit');
      if (m.role === 'owner' || m.role === 'admin') expect([m.email, res.status]).toEqual([m.email, 200]);
      else expectRefused(res, 'role_forbidden');
    }
  });
});

test('a refusal for want of two-step authentication says how to turn it on', async () => {
  const m = members.find((x) => x.role === 'manager' && !x.twoStep)!;
  const res = await stack.requestAs<ErrorResponse & { setupUrl: string }>(
    m.session.token,
    'POST',
    `/api/webhooks/deliveries/${skippedDelivery}/resend`,
  );
  expect(res.body.error.message).toMatch(/set up two-step authentication first/);
  expect(res.body.setupUrl).toBe('/account/two-step');
});

test('requests without credentials get 401; unknown or malformed tokens too', async () => {
  for (const token of [undefined, 'hfk_000000000000_' + 'x'.repeat(32), 'nonsense']) {
    for (const [method, path] of [
      ['GET', '/api/flows'],
      ['POST', '/api/events'],
      ['GET', '/api/webhooks/stats'],
      ['GET', `/api/runs/run_x`],
      ['POST', `/api/webhooks/deliveries/${skippedDelivery}/resend`],
    ] as const) {
      const res = await stack.requestAs<ErrorResponse>(
        token,
        method,
        path,
        method === 'POST' ? {} : undefined,
      );
      expect([path, res.status, res.body.error.code]).toEqual([path, 401, 'unauthenticated']);
    }
  }
});

describe('API keys', () => {
  const owner = () => stack.owner!.session.token;

  test('a key works only within its scopes, and records when it was last used', async () => {
    const created = await must(
      stack.requestAs<{ id: string; key: string }>(owner(), 'POST', '/api/keys', {
        name: 'ingest only',
        scopes: ['events:write'],
      }),
      201,
      'key',
    );
    const event = await stack.requestAs(created.key, 'POST', '/api/events', {
      metric: uniqueMetric('Keyed'),
      profile: { email: 'k@example.com' },
    });
    expect(event.status).toBe(202);
    for (const [method, path, scope] of [
      ['GET', '/api/flows', 'flows:read'],
      ['POST', '/api/flows', 'flows:write'],
      ['GET', '/api/webhooks/stats', 'analytics:read'],
      ['POST', `/api/webhooks/deliveries/${skippedDelivery}/resend`, 'flows:write'],
    ] as const) {
      const res = await stack.requestAs<ErrorResponse>(
        created.key,
        method,
        path,
        method === 'POST' ? {} : undefined,
      );
      expect([path, res.status, res.body.error.code]).toEqual([path, 403, 'scope_missing']);
      expect(res.body.error.message).toContain(scope);
    }
    const keys = await must(
      stack.requestAs<{ keys: { id: string; lastUsedAt: string | null }[] }>(owner(), 'GET', '/api/keys'),
      200,
      'list',
    );
    const listed = keys.keys.find((k) => k.id === created.id)!;
    expect(Date.now() - Date.parse(listed.lastUsedAt!)).toBeLessThan(60_000);
    // Keys cannot manage accounts or other keys.
    expectRefused(
      await stack.requestAs(created.key, 'POST', '/api/keys', { name: 'x', scopes: ['events:write'] }),
      'session_required',
    );
  });

  test('a revoked key is refused at once', async () => {
    const k = await must(
      stack.requestAs<{ id: string; key: string }>(owner(), 'POST', '/api/keys', {
        name: 'to revoke',
        scopes: ['flows:read'],
      }),
      201,
      'key',
    );
    expect((await stack.requestAs(k.key, 'GET', '/api/flows')).status).toBe(200);
    expect((await stack.requestAs(owner(), 'DELETE', `/api/keys/${k.id}`)).status).toBe(204);
    const after = await stack.requestAs<ErrorResponse>(k.key, 'GET', '/api/flows');
    expect([after.status, after.body.error.code]).toEqual([401, 'unauthenticated']);
  });

  test("a key follows its user's role and two-step state at every use", async () => {
    const m = await addMember('manager', true, 'demoted');
    const draft = await ownerDraft();
    const patch = (url: string) =>
      stack.requestAs(m.key, 'PATCH', `/api/flows/${draft.id}`, {
        steps: [{ ...draft.steps[0]!, url: receiver.url(url) }],
      });
    expect((await patch('/crm-a')).status).toBe(200);
    // Two-step authentication turned off (with a recovery code): the key loses webhook edits.
    await must(
      stack.requestAs(m.session.token, 'POST', '/api/auth/two-step/disable', { code: m.recoveryCodes[0] }),
      204,
      'disable two-step',
    );
    expectRefused(await patch('/crm-b'), 'two_step_required');
    await must(stack.requestAs(owner(), 'PATCH', `/api/users/${m.id}`, { role: 'analyst' }), 200, 'demote');
    expectRefused(await patch('/crm-c'), 'role_forbidden');
    expectRefused(
      await stack.requestAs(m.key, 'POST', '/api/events', {
        metric: 'x',
        profile: { email: 'a@example.com' },
      }),
      'role_forbidden',
    );
    expect((await stack.requestAs(m.key, 'GET', '/api/webhooks/stats')).status).toBe(200);
  });
});

describe('CSRF on cookie sessions', () => {
  const cookieRequest = (method: string, path: string, token: string, csrf?: string, body?: unknown) =>
    fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: {
        cookie: `hookflow_session=${token}`,
        'content-type': 'application/json',
        ...(csrf ? { 'x-csrf-token': csrf } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  test('a request that changes data with the cookie needs the session CSRF token; reads do not', async () => {
    const { token, csrf } = stack.owner!.session;
    const body = { metric: uniqueMetric('Csrf'), profile: { email: 'c@example.com' } };
    const none = await cookieRequest('POST', '/api/events', token, undefined, body);
    expect(none.status).toBe(403);
    expect(((await none.json()) as ErrorResponse).error.code).toBe('csrf_failed');
    const wrong = await cookieRequest('POST', '/api/events', token, 'not-the-token', body);
    expect(wrong.status).toBe(403);
    expect((await cookieRequest('POST', '/api/events', token, csrf, body)).status).toBe(202);
    expect((await cookieRequest('GET', '/api/flows', token)).status).toBe(200);
    // The same session token as a Bearer (an API client, not a browser) needs no CSRF token.
    expect((await stack.requestAs(token, 'POST', '/api/events', body)).status).toBe(202);
    // An API key is not a session: in the cookie it counts for nothing (it would dodge the CSRF check).
    const keyInCookie = await cookieRequest('POST', '/api/events', stack.owner!.apiKey, undefined, body);
    expect(keyInCookie.status).toBe(401);
  });
});

describe('the audit log of webhook changes', () => {
  test('records who changed which step and which fields, never the values', async () => {
    const m = await addMember('admin', true, 'audit');
    const created = await must(
      stack.requestAs<PublicFlow>(m.session.token, 'POST', '/api/flows', {
        name: 'audited',
        trigger: { type: 'metric', metric: uniqueMetric('Audit') },
        steps: [webhookStep(receiver.url('/crm')), { id: 'wait', type: 'delay', seconds: 5 }],
      }),
      201,
      'create',
    );
    const hook = created.steps[0] as WebhookView;
    await must(
      stack.requestAs(m.key, 'PATCH', `/api/flows/${created.id}`, {
        steps: [
          {
            ...hook,
            url: receiver.url('/crm-v2'),
            // The masked value sent back keeps the stored secret: not a change.
            headers: { ...hook.headers, 'X-Signature': 'another SECRET value 77' },
            body: '{"v": 2}',
          },
          { id: 'wait', type: 'delay', seconds: 10 },
        ],
      }),
      200,
      'patch',
    );
    await must(
      stack.requestAs(m.session.token, 'PATCH', `/api/flows/${created.id}`, { name: 'not a webhook change' }),
      200,
      'rename flow',
    );
    expect((await stack.requestAs(m.session.token, 'DELETE', `/api/flows/${created.id}`)).status).toBe(204);

    const log = await must(
      stack.requestAs<{ entries: Record<string, unknown>[] }>(
        stack.owner!.apiKey,
        'GET',
        `/api/audit?flowId=${created.id}`,
      ),
      200,
      'audit',
    );
    expect(log.entries.map(({ id: _id, at: _at, ...e }) => e)).toEqual([
      {
        action: 'webhook.removed',
        flowId: created.id,
        stepId: 'hook',
        fields: [],
        user: { id: m.id, email: m.email },
        apiKeyId: null,
      },
      {
        action: 'webhook.changed',
        flowId: created.id,
        stepId: 'hook',
        fields: ['url', 'body', 'headers.X-Signature'],
        user: { id: m.id, email: m.email },
        apiKeyId: m.key.split('_')[1],
      },
      {
        action: 'webhook.added',
        flowId: created.id,
        stepId: 'hook',
        fields: [],
        user: { id: m.id, email: m.email },
        apiKeyId: null,
      },
    ]);
    for (const e of log.entries) expect(Date.now() - Date.parse(e.at as string)).toBeLessThan(120_000);
    expect(JSON.stringify(log)).not.toMatch(/SECRET/);
  });

  test('is paged newest first', async () => {
    const first = await must(
      stack.request<{ entries: { id: number }[]; nextBefore: number | null }>('GET', '/api/audit?limit=2'),
      200,
      'page 1',
    );
    expect(first.entries).toHaveLength(2);
    expect(first.nextBefore).toBe(first.entries[1]!.id);
    const second = await must(
      stack.request<{ entries: { id: number }[] }>('GET', `/api/audit?limit=2&before=${first.nextBefore}`),
      200,
      'page 2',
    );
    expect(second.entries[0]!.id).toBeLessThan(first.entries[1]!.id);
    const bad = await stack.request<ErrorResponse>('GET', '/api/audit?limit=0&before=x');
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.map((d) => d.path).sort()).toEqual(['before', 'limit']);
  });
});

describe('pages', () => {
  // The delivery's own page: in the queues, newer resends (skipped too) push it off the first page.
  const deliveryPage = () => `/webhooks/deliveries/${skippedDelivery}`;
  const page = (path: string, token?: string) =>
    fetch(`${stack.apiUrl}${path}`, {
      redirect: 'manual',
      headers: token ? { cookie: `hookflow_session=${token}` } : {},
    });

  test('every page is behind sign-in: no session, a redirect to the sign-in page that comes back', async () => {
    for (const url of ['/webhooks', `/webhooks/deliveries/${skippedDelivery}`, '/account/two-step']) {
      const res = await page(url);
      expect([url, res.status, res.headers.get('location')]).toEqual([
        url,
        303,
        `/sign-in?next=${encodeURIComponent(url)}`,
      ]);
    }
    expect((await page('/sign-in')).status).toBe(200);
  });

  test('every role sees the analytics pages once signed in', async () => {
    for (const m of members) {
      for (const url of ['/webhooks', `/webhooks/deliveries/${skippedDelivery}`, '/account/two-step']) {
        const res = await page(url, m.session.token);
        const html = await res.text();
        expect([m.email, url, res.status]).toEqual([m.email, url, 200]);
        expect(html).toContain(m.email);
        expect(html).toContain(`<meta name="csrf-token" content="${m.session.csrf}">`);
      }
    }
  });

  test('the matrix on the page: each role × two-step signs in and clicks Resend', async () => {
    const browser = await launchBrowser();
    try {
      for (const m of members) {
        const context = await browser.newContext();
        const tab = await context.newPage();
        await signInThroughPage(
          tab,
          stack.apiUrl,
          m.twoStep ? { ...m, code: m.recoveryCodes[3]! } : m,
          deliveryPage(),
        );
        await tab.click(`button[data-resend="${skippedDelivery}"]`);
        const note = tab.locator(`#note-${skippedDelivery}`);
        await note.filter({ hasText: /\S/ }).waitFor();
        const text = await note.innerText();
        const verdict = webhookVerdict(m);
        if (verdict === 'ok')
          expect([m.email, text]).toEqual([m.email, expect.stringMatching(/^(Resend|A resend)/)]);
        else if (verdict === 'two_step_required')
          expect([m.email, text]).toEqual([
            m.email,
            expect.stringMatching(/Webhooks need two-step authentication/),
          ]);
        else
          expect([m.email, text]).toEqual([m.email, expect.stringMatching(/Resend failed: .*your role is/)]);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  });

  test('a manager without two-step authentication is reminded from the page, sets it up, then resends', async () => {
    const m = await addMember('manager', false, 'page');
    const browser = await launchBrowser();
    try {
      const tab = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
      await signInThroughPage(tab, stack.apiUrl, m, deliveryPage());
      await tab.click(`button[data-resend="${skippedDelivery}"]`);
      const reminder = tab.locator(`#note-${skippedDelivery} [data-testid="two-step-reminder"]`);
      await reminder.waitFor();
      expect(await reminder.innerText()).toMatch(/Webhooks need two-step authentication/);
      await tab.screenshot({ path: path.join(ARTIFACTS, 'two-step-reminder.png') });

      await reminder.locator('a').click();
      await tab.waitForURL(
        (u) => u.pathname === '/account/two-step' && u.searchParams.get('next') === deliveryPage(),
      );
      expect(await tab.innerText('[data-testid="two-step-state"]')).toMatch(/is off/);
      await tab.fill('#password', m.password);
      await tab.click('#begin');
      await tab.locator('[data-testid="two-step-qr"] svg').waitFor();
      const key = await tab.innerText('[data-testid="two-step-key"]');
      expect(key).toMatch(/^[A-Z2-7]{16,}$/);
      await tab.fill('#code', '000000');
      await tab.click('#confirm button[type=submit]');
      await tab.locator('#confirm-error').filter({ hasText: /wrong/ }).waitFor();
      await tab.fill('#code', currentTotp(key));
      await tab.click('#confirm button[type=submit]');
      await tab.locator('[data-testid="recovery-codes"] li').first().waitFor();
      expect(await tab.locator('[data-testid="recovery-codes"] li').count()).toBe(10);
      const recovery = await tab.locator('[data-testid="recovery-codes"] li').allInnerTexts();
      await tab.screenshot({ path: path.join(ARTIFACTS, 'two-step-setup.png'), fullPage: true });

      await tab.click('[data-testid="two-step-continue"]');
      await tab.waitForURL((u) => u.pathname === deliveryPage());
      expect(await tab.innerText('[data-testid="viewer"]')).toMatch(/Two-step: on/);
      await tab.click(`button[data-resend="${skippedDelivery}"]`);
      const note = tab.locator(`#note-${skippedDelivery}`);
      await note.filter({ hasText: /Resend/ }).waitFor();
      expect(await note.innerText()).not.toMatch(/two-step|failed:/i);

      // Turning it off from the page takes a code (here one of the recovery codes it showed).
      await tab.goto(`${stack.apiUrl}/account/two-step`);
      await tab.fill('#disable-code', '000000');
      await tab.click('#disable button[type=submit]');
      await tab.locator('#disable-error').filter({ hasText: /wrong/ }).waitFor();
      await tab.fill('#disable-code', recovery[0]!);
      await tab.click('#disable button[type=submit]');
      await tab
        .locator('[data-testid="two-step-state"]')
        .filter({ hasText: /is off/ })
        .waitFor();
    } finally {
      await browser.close();
    }
    const me = await stack.requestAs<{ user: { twoStepEnabled: boolean } }>(
      m.session.token,
      'GET',
      '/api/auth/me',
    );
    expect(me.body.user.twoStepEnabled).toBe(false);
  });

  test('an analyst who tries a resend from the page is told the role cannot', async () => {
    const m = members.find((x) => x.role === 'analyst' && x.twoStep)!;
    const browser = await launchBrowser();
    try {
      const tab = await browser.newPage();
      // The analyst has two-step authentication on: the sign-in page asks for a code (a recovery code here).
      await signInThroughPage(tab, stack.apiUrl, { ...m, code: m.recoveryCodes[1]! }, deliveryPage());
      await tab.click(`button[data-resend="${skippedDelivery}"]`);
      const note = tab.locator(`#note-${skippedDelivery}`);
      await note.filter({ hasText: /Resend failed/ }).waitFor();
      expect(await note.innerText()).toMatch(/managers, admins and owners; your role is analyst/);
    } finally {
      await browser.close();
    }
  });

  test('the sign-in page says when the password or the code is wrong, and signs out', async () => {
    const m = members.find((x) => x.role === 'support' && x.twoStep)!;
    const browser = await launchBrowser();
    try {
      const tab = await browser.newPage();
      await tab.goto(`${stack.apiUrl}/sign-in`);
      await tab.fill('#email', m.email);
      await tab.fill('#password', 'not the password');
      await tab.click('button[type=submit]');
      await tab
        .locator('#error')
        .filter({ hasText: /email or the password is wrong/ })
        .waitFor();
      await tab.fill('#password', m.password);
      await tab.click('button[type=submit]');
      await tab.locator('#code').waitFor({ state: 'visible' });
      await tab.fill('#code', '123456');
      await tab.click('button[type=submit]');
      await tab
        .locator('#error')
        .filter({ hasText: /code is wrong/ })
        .waitFor();
      await tab.fill('#code', m.recoveryCodes[2]!);
      await tab.click('button[type=submit]');
      await tab.waitForURL((u) => u.pathname === '/webhooks');
      await tab.click('[data-sign-out]');
      await tab.waitForURL((u) => u.pathname === '/sign-in');
      await tab.goto(`${stack.apiUrl}/webhooks`);
      await tab.waitForURL(/\/sign-in\?next=/);
    } finally {
      await browser.close();
    }
  });
});

test('two-step setup takes the password again', async () => {
  const m = await addMember('manager', false, 'reauth');
  const wrong = await stack.requestAs<ErrorResponse>(m.session.token, 'POST', '/api/auth/two-step/setup', {
    password: 'not the password',
  });
  expect([wrong.status, wrong.body.error.details[0]?.path]).toEqual([422, 'password']);
  const right = await stack.requestAs<{ otpauthUri: string }>(
    m.session.token,
    'POST',
    '/api/auth/two-step/setup',
    {
      password: m.password,
    },
  );
  expect(right.body.otpauthUri).toMatch(/^otpauth:/);
});

test('changing a password takes the current one and ends the other sessions', async () => {
  const m = await addMember('support', false, 'password');
  const credentials = { email: m.email, password: m.password };
  const other = await must(
    stack.requestAs<{ token: string }>(undefined, 'POST', '/api/auth/sign-in', credentials),
    200,
    'second session',
  );
  const wrong = await stack.requestAs<ErrorResponse>(m.session.token, 'POST', '/api/auth/password', {
    currentPassword: 'not it',
    newPassword: 'a brand new password',
  });
  expect([wrong.status, wrong.body.error.details[0]?.path]).toEqual([422, 'currentPassword']);
  const short = await stack.requestAs<ErrorResponse>(m.session.token, 'POST', '/api/auth/password', {
    currentPassword: m.password,
    newPassword: 'short',
  });
  expect([short.status, short.body.error.details[0]?.path]).toEqual([422, 'newPassword']);
  const viaKey = await stack.requestAs<ErrorResponse>(m.key, 'POST', '/api/auth/password', {
    currentPassword: m.password,
    newPassword: 'a brand new password',
  });
  expectRefused(viaKey, 'session_required');

  const ok = await stack.requestAs(m.session.token, 'POST', '/api/auth/password', {
    currentPassword: m.password,
    newPassword: 'a brand new password',
  });
  expect(ok.status).toBe(204);
  expect((await stack.requestAs(m.session.token, 'GET', '/api/auth/me')).status).toBe(200);
  expect((await stack.requestAs(other.token, 'GET', '/api/auth/me')).status).toBe(401);
  expect((await stack.requestAs(undefined, 'POST', '/api/auth/sign-in', credentials)).status).toBe(401);
  const fresh = await stack.requestAs(undefined, 'POST', '/api/auth/sign-in', {
    email: m.email,
    password: 'a brand new password',
  });
  expect(fresh.status).toBe(200);
});

test('behind a trusted proxy, lockouts count per client address and the cookie is Secure over HTTPS', async () => {
  const signIn = (ip: string, email: string, password = 'wrong password', proto = 'http') =>
    fetch(`${stack.apiUrl}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, 'x-forwarded-proto': proto },
      body: JSON.stringify({ email, password }),
    });
  // Twenty failures from one client (on twenty accounts, so no account lock is reached) lock that address only.
  for (let i = 0; i < 20; i++)
    expect((await signIn('203.0.113.7', `guess${i}@example.com`)).status).toBe(401);
  expect((await signIn('203.0.113.7', 'guess-more@example.com')).status).toBe(429);
  expect((await signIn('203.0.113.8', 'guess-more@example.com')).status).toBe(401);

  const m = members.find((x) => x.role === 'manager' && !x.twoStep)!;
  const viaHttps = await signIn('203.0.113.9', m.email, m.password, 'https');
  expect(viaHttps.status).toBe(200);
  expect(viaHttps.headers.get('set-cookie')).toMatch(/; Secure/i);
  const viaHttp = await signIn('203.0.113.9', m.email, m.password, 'http');
  expect(viaHttp.headers.get('set-cookie')).not.toMatch(/; Secure/i);
});

test('keys, session tokens, passwords and header values never reach the logs', () => {
  const logs = stack.logs;
  expect(logs.length).toBeGreaterThan(1000);
  for (const m of members) {
    for (const secret of [m.key, m.session.token, m.session.csrf, m.password, ...m.recoveryCodes]) {
      expect(logs).not.toContain(secret);
    }
  }
  expect(logs).not.toContain(stack.owner!.apiKey);
  expect(logs).not.toContain(SECRET);
  // And nothing above answered 500.
  expect(logs).not.toContain('"msg":"unhandled error"');
});
