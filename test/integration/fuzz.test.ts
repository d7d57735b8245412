import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestPki } from '../harness/certs';
import type { FuzzResult } from '../harness/fuzz';
import { VENV, ensureFuzzVenv, formatFuzzSummary, runFuzz, seedSecrets } from '../harness/fuzz';
import { Receiver } from '../harness/receiver';
import { ROOT, Stack } from '../harness/stack';

/**
 * The short run of `make fuzz` (issue 17 §2): schemathesis against the real stack, a few hundred
 * requests, failing on any finding; then what the fuzzer found, each as a regression: the answer the
 * real stack gives and the document's word on it.
 */

let stack: Stack;
let receiver: Receiver;

interface Operation {
  requestBody?: { required?: boolean };
  responses: Record<string, unknown>;
}
type Document = { paths: Record<string, Record<string, Operation>> };
let doc: Document;

beforeAll(async () => {
  // First, apart: creating the venv blocks, and a missing python3-venv must fail the suite, with its fix.
  ensureFuzzVenv();
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'fuzz', caCert: pki.caCert });
  doc = (await stack.requestAs<Document>(undefined, 'GET', '/api/openapi.json')).body;
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

/** The statuses the document lists for an operation. */
function documented(method: string, path: string): string[] {
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`${method.toUpperCase()} ${path} is not in the document`);
  return Object.keys(op.responses);
}

/** Runs `no_secret_leak` of fuzz/hooks.py on made-up answers; prints one verdict per answer. */
function secretCheckVerdicts(
  secrets: string[],
  answers: { method: string; path: string; body: string }[],
): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-leak-'));
  try {
    fs.writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify(secrets));
    const script = [
      'import json, sys',
      'from types import SimpleNamespace as NS',
      'import hooks',
      'for a in json.loads(sys.argv[1]):',
      '    case = NS(method=a["method"], operation=NS(path=a["path"]))',
      '    response = NS(text=a["body"], headers={"content-type": ["application/json"]})',
      '    try:',
      '        hooks.no_secret_leak(None, response, case)',
      '        print("ok")',
      '    except AssertionError as e:',
      '        print("leak: " + str(e))',
    ].join('\n');
    const out = spawnSync(path.join(VENV, 'bin', 'python'), ['-c', script, JSON.stringify(answers)], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PYTHONPATH: path.join(ROOT, 'fuzz'),
        HOOKFLOW_FUZZ_SECRETS: path.join(dir, 'secrets.json'),
        HOOKFLOW_FUZZ_TALLY: path.join(dir, 'tally.json'),
      },
    });
    if (out.status !== 0) throw new Error(out.stderr);
    return out.stdout.trim().split('\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the secret check fails on a seeded secret, and on a signing secret past the answer that created it', () => {
  const whsec = `whsec_${'A'.repeat(43)}=`;
  const verdicts = secretCheckVerdicts(
    ['header-value-1234567890'],
    [
      { method: 'GET', path: '/api/flows/{id}', body: '{"headers":{"X-Token":"head••••1a2b"}}' },
      { method: 'GET', path: '/api/flows/{id}', body: '{"echo":"header-value-1234567890"}' },
      {
        method: 'POST',
        path: '/api/flows',
        body: JSON.stringify({ signingSecrets: [{ stepId: 'a', secret: whsec }] }),
      },
      { method: 'GET', path: '/api/flows/{id}', body: JSON.stringify({ signingSecret: 'whsec_AAAA••••' }) },
      { method: 'GET', path: '/api/audit', body: JSON.stringify({ entries: [{ after: whsec }] }) },
    ],
  );
  expect(verdicts.map((v) => v.split(':')[0])).toEqual(['ok', 'leak', 'ok', 'ok', 'leak']);
});

describe('found by the fuzzer', () => {
  test('sign-in with a wrong password answers 401, which the document lists', async () => {
    const res = await stack.requestAs(undefined, 'POST', '/api/auth/sign-in', {
      email: stack.owner!.email,
      password: 'not the password',
    });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'invalid_credentials' } });
    expect(documented('post', '/api/auth/sign-in')).toContain('401');
  });

  test('setup with a link that is not valid answers 403, which the document lists (and 409)', async () => {
    const res = await stack.requestAs(undefined, 'POST', '/api/setup', {
      token: 'not-a-setup-token',
      email: 'second@example.com',
      password: 'a long enough password 1',
    });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: { code: 'setup_link_invalid' } });
    expect(documented('post', '/api/setup')).toEqual(expect.arrayContaining(['403', '409']));
  });

  test('demoting the last owner answers 409, which the document lists', async () => {
    const session = stack.owner!.session.token;
    const me = await stack.requestAs<{ user: { id: string } }>(session, 'GET', '/api/auth/me');
    const res = await stack.requestAs(session, 'PATCH', `/api/users/${me.body.user.id}`, { role: 'admin' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: { code: 'last_owner' } });
    expect(documented('patch', '/api/users/{id}')).toContain('409');
  });

  test('two-step setup while it is on answers 409, which the document lists', async () => {
    const res = await stack.requestAs(stack.owner!.session.token, 'POST', '/api/auth/two-step/setup', {
      password: stack.owner!.password,
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: { code: 'two_step_enabled' } });
    for (const p of ['/api/auth/two-step/setup', '/api/auth/two-step/confirm', '/api/auth/two-step/disable'])
      expect([p, documented('post', p)]).toEqual([p, expect.arrayContaining(['409'])]);
  });

  test('wrong current passwords lock the account out with 429, which the document lists where a password or code is asked', async () => {
    const session = stack.owner!.session.token;
    const attempt = () =>
      stack.requestAs(session, 'POST', '/api/auth/password', {
        currentPassword: 'not the password',
        newPassword: 'another long password 1',
      });
    // Five failures lock the account (the wrong sign-in above counted too): 422 each, then 429.
    const statuses: number[] = [];
    let locked = await attempt();
    while (locked.status === 422 && statuses.length < 6) {
      statuses.push(locked.status);
      locked = await attempt();
    }
    expect(statuses.length).toBeGreaterThanOrEqual(4);
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ error: { code: 'locked_out' } });
    for (const p of ['/api/auth/password', '/api/auth/two-step/setup', '/api/auth/two-step/disable'])
      expect([p, documented('post', p)]).toEqual([p, expect.arrayContaining(['429'])]);
  });

  test('a NUL character is refused by field (422) or as a path (404) on both databases, never a 500', async () => {
    const stats = await stack.request('GET', '/api/webhooks/stats?flowId=a%00b');
    expect(stats.status).toBe(422);
    expect(stats.body).toMatchObject({ error: { details: [{ path: 'flowId' }] } });
    const profile = await stack.request('POST', '/api/profiles', {
      email: 'nul@example.com',
      properties: { 'a\u0000b': 'x', plain: ['ok', 'c\u0000d'] },
    });
    expect(profile.status).toBe(422);
    const paths = (profile.body as { error: { details: { path: string }[] } }).error.details.map(
      (d) => d.path,
    );
    expect(paths.sort()).toEqual(['properties.a\u0000b', 'properties.plain.1']);
    expect((await stack.request('GET', '/api/flows/flw_%00')).status).toBe(404);
    expect(
      (await stack.request('PUT', '/api/catalog/items/x%00', { title: 'T', price: 1, currency: 'USD' }))
        .status,
    ).toBe(404);
    for (const [p, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item))
        if (p.includes('{'))
          expect([method, p, Object.keys(op.responses)]).toEqual([
            method,
            p,
            expect.arrayContaining(['404']),
          ]);
  });

  test('an audit cursor beyond a 32-bit id answers 422 naming it (it was a 500 on PostgreSQL)', async () => {
    const res = await stack.requestAs(stack.owner!.session.token, 'GET', '/api/audit?before=1099511627777');
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: { details: [{ path: 'before' }] } });
  });

  test('a body the route needs is required in the document; one it reads as {} is not', async () => {
    const none = await stack.request('POST', '/api/flows');
    expect(none.status).toBe(422);
    expect(none.body).toMatchObject({
      error: { details: [{ path: '(body)', message: 'a JSON body is required' }] },
    });
    expect(doc.paths['/api/flows']!.post!.requestBody?.required).toBe(true);
    expect(doc.paths['/api/webhooks/deliveries/resend']!.post!.requestBody?.required).toBe(false);
    const resend = await stack.request('POST', '/api/webhooks/deliveries/resend');
    expect(resend.status).toBe(202);
  });

  test('a body over the limit answers 413 JSON on any route, and every route with a body lists 413', async () => {
    const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
      name: 'fuzz: big patch',
      trigger: { type: 'metric', metric: 'Fuzz big patch' },
      steps: [],
    });
    expect(flow.status).toBe(201);
    const big = await stack.request('PATCH', `/api/flows/${flow.body.id}`, { name: 'x'.repeat(600_000) });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: { code: 'payload_too_large' } });
    for (const [p, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item))
        if (op.requestBody)
          expect([method, p, documented(method, p)]).toEqual([
            method,
            p,
            expect.arrayContaining(['400', '413']),
          ]);
  });
});

// Last: the fuzzer, signed in as the owner, may revoke keys and change what the tests above read.
test('a short fuzz run finds no 5xx, no undocumented answer and no leaked secret', async () => {
  const secrets = await seedSecrets(stack, receiver);
  const result: FuzzResult = await runFuzz(stack, {
    requests: 300,
    // The coverage phase alone sends some 4,700 requests: make fuzz runs it.
    phases: ['examples', 'fuzzing', 'stateful'],
    secrets,
    name: 'jest-fuzz',
  });
  const summary = formatFuzzSummary(result);
  expect(result.totalRequests).toBeGreaterThanOrEqual(300);
  // Every documented operation but the document itself (schemathesis does not call its own source).
  expect(Object.keys(result.tally.requests).length).toBeGreaterThanOrEqual(result.operations.length - 1);
  expect([summary, result.tally.findings, result.tally.errors]).toEqual([summary, [], []]);
  expect(result.exitCodes.every((c) => c === 0)).toBe(true);
}, 300_000);
