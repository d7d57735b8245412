import { execFileSync } from 'node:child_process';
import { temporalCliPath } from '../../src/temporal/dev-server';
import { freePort } from '../../src/temporal/ports';
import type { TestPki } from '../harness/certs';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { Stack } from '../harness/stack';
import type { ErrorResponse, PublicFlow } from '../support/api-types';
import { postEvent, startOneRun, step, uniqueMetric, waitForRun } from '../support/flows';

/** Writing a webhook step: save-time checks, secret headers, variables, preview and test send. */

interface Check {
  stepId: string;
  ok: boolean;
  live: boolean;
  error?: string;
  warnings: string[];
}
type Saved = PublicFlow & { checks: Check[] };
type Refused = ErrorResponse & { checks?: Check[] };

let stack: Stack;
let pki: TestPki;
let good: Receiver;
const bad: Record<string, Receiver> = {};
const SECRET = 'sk_live_TOPSECRET_4242424242';

const hook = (url: string, extra: Record<string, unknown> = {}) => ({
  id: 'hook',
  type: 'webhook',
  url,
  body: '{"email": "{{ person.email }}"}',
  ...extra,
});

const createFlow = (metric: string, status: 'draft' | 'live', steps: unknown[]) =>
  stack.request<Saved & Refused>('POST', '/api/flows', {
    name: 'authoring',
    trigger: { type: 'metric', metric },
    status,
    steps,
  });

beforeAll(async () => {
  pki = createTestPki();
  good = await Receiver.start(pki.good);
  for (const name of ['selfSigned', 'expired', 'wrongHost', 'unknownIssuer'] as const) {
    bad[name] = await Receiver.start(pki[name]);
  }
  stack = await Stack.start({ name: 'authoring', caCert: pki.caCert });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all([good, ...Object.values(bad)].map((r) => r?.close()));
});

describe('the live URL check when a flow goes live', () => {
  test.each([
    ['selfSigned', /the certificate is self-signed/],
    ['expired', /the certificate has expired/],
    ['wrongHost', /does not match the host name/],
    ['unknownIssuer', /unknown authority/],
  ])('%s certificate → 422 with a description', async (name, message) => {
    const res = await createFlow(uniqueMetric('TLS'), 'live', [hook(bad[name]!.url('/hook'))]);
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { path: 'steps.0.url', message: expect.stringMatching(message) as string },
    ]);
    expect(res.body.checks).toEqual([
      {
        stepId: 'hook',
        ok: false,
        live: true,
        error: expect.stringMatching(message) as string,
        warnings: [],
      },
    ]);
  });

  test('a redirect → 422 naming where it points; the target is never requested', async () => {
    good.scriptHead('/moved', { status: 301, headers: { location: good.url('/new-home') } });
    const res = await createFlow(uniqueMetric('Redirect'), 'live', [hook(good.url('/moved'))]);
    expect(res.status).toBe(422);
    expect(res.body.error.details[0]!.message).toBe(
      `the URL redirects to ${good.url('/new-home')}; use the final URL`,
    );
    expect(good.probes('/new-home')).toHaveLength(0);
    expect(good.received('/moved')).toHaveLength(0);
  });

  test('an unreachable endpoint does not block saving: it comes back as a warning', async () => {
    const port = await freePort();
    const res = await createFlow(uniqueMetric('Down'), 'live', [hook(`https://127.0.0.1:${port}/hook`)]);
    expect(res.status).toBe(201);
    expect(res.body.checks).toEqual([
      {
        stepId: 'hook',
        ok: true,
        live: true,
        warnings: [expect.stringMatching(/could not reach.*connection refused/) as string],
      },
    ]);
  });

  test('a draft saves without the live check, and cannot go live while the check fails', async () => {
    const draft = await createFlow(uniqueMetric('Draft'), 'draft', [hook(bad.selfSigned!.url('/hook'))]);
    expect(draft.status).toBe(201);
    expect(draft.body.checks).toEqual([{ stepId: 'hook', ok: true, live: false, warnings: [] }]);
    const live = await stack.request<Refused>('PATCH', `/api/flows/${draft.body.id}`, { status: 'live' });
    expect(live.status).toBe(422);
    expect(live.body.error.message).toMatch(/cannot go live/);
    const after = await stack.request<PublicFlow>('GET', `/api/flows/${draft.body.id}`);
    expect(after.body).toMatchObject({ status: 'draft', version: 1 });
  });

  test('a live flow is probed again only when a webhook URL changes', async () => {
    const created = await createFlow(uniqueMetric('Reprobe'), 'live', [hook(good.url('/probe-a'))]);
    expect(created.status).toBe(201);
    expect(good.probes('/probe-a')).toHaveLength(1);
    const renamed = await stack.request<Saved>('PATCH', `/api/flows/${created.body.id}`, { name: 'renamed' });
    expect(renamed.body.checks).toEqual([{ stepId: 'hook', ok: true, live: false, warnings: [] }]);
    const moved = await stack.request<Saved>('PATCH', `/api/flows/${created.body.id}`, {
      steps: [hook(good.url('/probe-b'))],
    });
    expect(moved.body.checks[0]).toMatchObject({ ok: true, live: true });
    expect(good.probes('/probe-a')).toHaveLength(1);
    expect(good.probes('/probe-b')).toHaveLength(1);
  });
});

describe('bodies are checked at save with sample data', () => {
  test('output that is not JSON → 422 with line, column and the rendered text around', async () => {
    const res = await createFlow(uniqueMetric('BadJson'), 'draft', [
      hook(good.url('/x'), { body: '{\n  "email": "{{ person.email }}",\n  "total": {{ event.nope }}\n}' }),
    ]);
    expect(res.status).toBe(422);
    const [d] = res.body.error.details as (ErrorResponse['error']['details'][number] &
      Record<string, unknown>)[];
    // The JSON parser notices the missing value at the closing brace.
    expect(d).toMatchObject({ path: 'steps.0.body', line: 4, column: 1 });
    expect(d!.message).toMatch(/not valid JSON/);
    expect(d!.excerpt).toContain('"total": \n}');
  });

  test('an unknown filter or tag → 422 naming it and its line', async () => {
    const res = await createFlow(uniqueMetric('Unknown'), 'draft', [
      hook(good.url('/x'), { id: 'a', body: '{\n"e": "{{ person.email|shout }}"}' }),
      hook(good.url('/x'), { id: 'b', body: '{\n\n{% loudly %}}' }),
    ]);
    expect(res.status).toBe(422);
    expect(res.body.error.details.map((d) => [d.path, d.message])).toEqual([
      ['steps.0.body', expect.stringMatching(/line 2.*unknown filter "shout"/) as string],
      ['steps.1.body', expect.stringMatching(/line 3.*unknown tag "loudly"/) as string],
    ]);
  });
});

describe('secret headers', () => {
  test('masked in responses, kept when the mask is sent back, never in history or logs', async () => {
    const metric = uniqueMetric('Secret');
    const created = await createFlow(metric, 'live', [
      hook(good.url('/secret'), {
        headers: { Authorization: `Bearer ${SECRET}`, 'X-Other': 'other-value-123456' },
      }),
    ]);
    expect(created.status).toBe(201);
    const headers = (created.body.steps[0] as { headers: Record<string, string> }).headers;
    expect(headers.Authorization).toMatch(/^Bea••••[0-9a-f]{8}$/);

    // Send the masked Authorization back unchanged and a new X-Other: one kept, one replaced.
    const patched = await stack.request<Saved>('PATCH', `/api/flows/${created.body.id}`, {
      steps: [
        hook(good.url('/secret'), {
          headers: { Authorization: headers.Authorization, 'X-Other': 'replaced-value-99' },
        }),
      ],
    });
    expect(patched.status).toBe(200);
    const after = (patched.body.steps[0] as { headers: Record<string, string> }).headers;
    expect(after.Authorization).toBe(headers.Authorization);
    expect(after['X-Other']).not.toBe(headers['X-Other']);

    const wrong = await stack.request<ErrorResponse>('PATCH', `/api/flows/${created.body.id}`, {
      steps: [hook(good.url('/secret'), { headers: { Authorization: 'Bea••••00000000' } })],
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.details[0]!.path).toBe('steps.0.headers.Authorization');

    const runId = await startOneRun(stack, metric);
    const run = await waitForRun(stack, runId);
    expect(step(run, 'hook').status).toBe('delivered');
    const [req] = good.received('/secret');
    expect(req!.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(req!.headers['x-other']).toBe('replaced-value-99');

    // The full history export, payloads decoded (through the codec endpoint: they are encrypted in
    // Temporal), and the base64 form too.
    const history = execFileSync(
      temporalCliPath(),
      [
        'workflow',
        'show',
        '--workflow-id',
        runId,
        '--address',
        stack.server.address,
        '--output',
        'json',
        '--codec-endpoint',
        `${stack.apiUrl}/codec`,
        '--codec-auth',
        `Bearer ${stack.owner!.apiKey}`,
      ],
      { encoding: 'utf8' },
    );
    expect(history).not.toContain('binary/encrypted');
    // The payloads' bytes, as the CLI prints them (base64), read back: the profile is there, no secret.
    const payloadText = [...history.matchAll(/"data": "([A-Za-z0-9+/=]*)"/g)]
      .map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'))
      .join('\n');
    expect(payloadText).toContain('ada@example.com');
    expect(history).toContain(runId);
    expect(history.length).toBeGreaterThan(1000);
    for (const needle of [SECRET, Buffer.from(SECRET).toString('base64'), 'replaced-value-99']) {
      expect(history).not.toContain(needle);
      expect(payloadText).not.toContain(needle);
      expect(stack.logs).not.toContain(needle);
      expect(JSON.stringify(run)).not.toContain(needle);
    }
    const flows = await stack.request('GET', '/api/flows');
    expect(JSON.stringify(flows.body)).not.toContain(SECRET);
  });

  test('header names the engine sets are refused with the reason', async () => {
    const res = await createFlow(uniqueMetric('Reserved'), 'draft', [
      hook(good.url('/x'), { headers: { 'Idempotency-Key': 'x', 'Bad Name': 'y' } }),
    ]);
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      {
        path: 'steps.0.headers.Idempotency-Key',
        message: expect.stringMatching(/set by hookflow/) as string,
      },
      {
        path: 'steps.0.headers.Bad Name',
        message: expect.stringMatching(/not a valid HTTP header name/) as string,
      },
    ]);
  });
});

describe('variables, preview and test send', () => {
  let flowId: string;
  let metric: string;

  beforeAll(async () => {
    metric = uniqueMetric('Tools');
    good.script('/tools', { status: 200, body: `{"ok": true, "echo": "${SECRET}"}` });
    const created = await createFlow(metric, 'draft', [
      hook(good.url('/tools'), {
        headers: { Authorization: `Bearer ${SECRET}` },
        body: '{"who": "{{ person.first_name|default:"friend" }}", "items": {{ event.items|json }}, "lid": "{{ person|lookup:"Loyalty ID" }}"}',
      }),
      { id: 'wait', type: 'delay', seconds: 1 },
    ]);
    flowId = created.body.id;
    const posted = await postEvent(stack, metric, {
      profile: {
        email: 'grace@example.com',
        first_name: 'Grace',
        properties: { 'Loyalty ID': 'LY-7', tier: 'gold' },
      },
      properties: { value: 42, items: [{ name: 'Mug', price: 12 }] },
    });
    expect(posted.body.runs).toEqual([]); // a draft starts no runs
  });

  test('variables list profile fields, custom properties and event properties with paths to paste', async () => {
    const res = await stack.request<{
      variables: { path: string; type: string; example: unknown; itemFields?: unknown[] }[];
    }>('GET', `/api/flows/${flowId}/variables`);
    expect(res.status).toBe(200);
    const byPath = new Map(res.body.variables.map((v) => [v.path, v]));
    expect(byPath.get('{{ person.first_name }}')).toMatchObject({ type: 'string' });
    expect(byPath.get('{{ person.tier }}')).toMatchObject({ type: 'string', example: 'gold' });
    expect(byPath.get('{{ person|lookup:"Loyalty ID" }}')).toMatchObject({ example: 'LY-7' });
    expect(byPath.get('{{ event.value }}')).toMatchObject({ type: 'number', example: 42 });
    expect(byPath.get('{{ event.items }}')).toMatchObject({
      type: 'list',
      itemFields: [
        { name: 'name', type: 'string', example: 'Mug' },
        { name: 'price', type: 'number', example: 12 },
      ],
    });
  });

  test('preview renders with the latest event of the trigger, or with what the request gives', async () => {
    const latest = await stack.request<{ body: string; valid: boolean; contextSource: string }>(
      'POST',
      `/api/flows/${flowId}/steps/hook/preview`,
    );
    expect(latest.body).toMatchObject({ valid: true, contextSource: 'recent_event' });
    expect(JSON.parse(latest.body.body)).toEqual({
      who: 'Grace',
      items: [{ name: 'Mug', price: 12 }],
      lid: 'LY-7',
    });

    const given = await stack.request<{ body: string; valid: boolean; contextSource: string }>(
      'POST',
      `/api/flows/${flowId}/steps/hook/preview`,
      { profile: { first_name: 'Zoë "Z" \\o/' }, event: { items: [] } },
    );
    expect(given.body.contextSource).toBe('request');
    expect(JSON.parse(given.body.body)).toEqual({ who: 'Zoë "Z" \\o/', items: [], lid: '' });

    const notWebhook = await stack.request<ErrorResponse>('POST', `/api/flows/${flowId}/steps/wait/preview`);
    expect(notWebhook.status).toBe(422);
    expect((await stack.request('POST', `/api/flows/${flowId}/steps/nope/preview`)).status).toBe(404);
  });

  test('test send posts for real, reports status, latency, excerpt and class, and records no delivery', async () => {
    const res = await stack.request<Record<string, unknown>>('POST', `/api/flows/${flowId}/steps/hook/test`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      sent: true,
      class: 'delivered',
      httpStatus: 200,
      contextSource: 'recent_event',
    });
    expect(res.body.latencyMs).toEqual(expect.any(Number));
    expect(res.body.responseExcerpt).toBe('{"ok": true, "echo": "[redacted]"}');
    const [req] = good.received('/tools');
    expect(req!.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(req!.headers['idempotency-key']).toMatch(/^test_/);

    good.script('/tools', { status: 410 });
    const gone = await stack.request<Record<string, unknown>>('POST', `/api/flows/${flowId}/steps/hook/test`);
    expect(gone.body).toMatchObject({ sent: true, class: 'non_retryable', httpStatus: 410 });

    const db = await stack.openDatabase();
    const rows = await db.selectFrom('deliveries').selectAll().where('flow_id', '=', flowId).execute();
    await db.destroy();
    expect(rows).toEqual([]);
  });
});

describe('outbound network safety (the suite allows 127.0.0.1 only)', () => {
  test.each([
    ['https://169.254.169.254/latest/meta-data', /link-local/],
    ['https://10.0.0.1/hook', /private network/],
    ['https://[::1]/hook', /loopback/],
    ['https://[::ffff:192.168.0.1]/hook', /private network/],
    ['https://[fd00::1]/hook', /unique-local/],
    ['https://100.64.1.1/hook', /carrier-grade NAT/],
  ])('%s is refused at save, draft or live, saying how to allow it', async (url, why) => {
    const res = await createFlow(uniqueMetric('Ssrf'), 'draft', [hook(url)]);
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { path: 'steps.0.url', message: expect.stringMatching(why) as string },
    ]);
    expect(res.body.error.details[0]!.message).toMatch(/HOOKFLOW_OUTBOUND_ALLOW/);
  });

  test('the allowlisted loopback address is reachable', async () => {
    const res = await createFlow(uniqueMetric('Allowed'), 'live', [hook(good.url('/allowed'))]);
    expect(res.status).toBe(201);
  });
});
