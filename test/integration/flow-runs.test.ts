import { createTestPki } from '../harness/certs';
import type { ErrorResponse, PublicFlow } from '../support/api-types';
import {
  createLiveFlow,
  emailValueHook,
  getRun,
  postEvent,
  startOneRun,
  step,
  uniqueMetric,
  waitForRun,
} from '../support/flows';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';

/** Flow runs on the real stack: dedupe, delays, splits, a worker crash, and the API's contract. */

let stack: Stack;
let receiver: Receiver;

const hook = (id: string, urlPath: string) => emailValueHook(id, receiver.url(urlPath));

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'flow-runs', caCert: pki.caCert });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

test('GET /ready answers 200 when Temporal and the database answer and migrations are applied', async () => {
  const res = await stack.request('GET', '/ready');
  expect(res).toEqual({
    status: 200,
    body: { status: 'ok', database: 'ok', migrations: 'ok', temporal: 'ok', failed: [] },
  });
});

test('the same unique_id posted twice starts one run, and the second answer lists it', async () => {
  const metric = uniqueMetric('Dedupe');
  const flow = await createLiveFlow(stack, metric, [hook('h', '/dedupe')]);
  const first = await postEvent(stack, metric, { unique_id: 'order-1001' });
  const second = await postEvent(stack, metric, { unique_id: 'order-1001' });
  expect(first.status).toBe(202);
  expect(second.status).toBe(202);
  expect(first.body.runs).toEqual([{ flowId: flow.id, runId: expect.any(String) as string }]);
  expect(second.body).toEqual(first.body);
  await waitForRun(stack, first.body.runs[0]!.runId);
  expect(receiver.received('/dedupe')).toHaveLength(1);

  // Without unique_id every post is a new event.
  const a = await startOneRun(stack, metric);
  const b = await startOneRun(stack, metric);
  expect(a).not.toBe(b);
});

test('only live flows with a matching metric start runs', async () => {
  const metric = uniqueMetric('Matching');
  const live = await createLiveFlow(stack, metric, []);
  const draft = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: 'draft',
    trigger: { type: 'metric', metric },
    steps: [],
  });
  expect(draft.body.status).toBe('draft');
  const res = await postEvent(stack, metric);
  expect(res.body.runs.map((r) => r.flowId)).toEqual([live.id]);
  expect((await postEvent(stack, uniqueMetric('Nobody'))).body).toEqual({ runs: [] });
});

test('a delay then a webhook: the webhook waits for the durable timer', async () => {
  const metric = uniqueMetric('Delayed');
  await createLiveFlow(stack, metric, [
    { id: 'wait', type: 'delay', seconds: 2 },
    hook('after', '/after-delay'),
  ]);
  const posted = Date.now();
  const runId = await startOneRun(stack, metric);
  const during = await getRun(stack, runId);
  expect(step(during, 'after').status).toBe('pending');
  const run = await waitForRun(stack, runId);
  expect(step(run, 'wait').status).toBe('completed');
  expect(step(run, 'after').status).toBe('delivered');
  const [req] = receiver.received('/after-delay');
  expect(req!.at - posted).toBeGreaterThanOrEqual(2000);
});

test('a split takes the yes branch or the no branch from the event', async () => {
  const metric = uniqueMetric('Split');
  await createLiveFlow(stack, metric, [
    {
      id: 'big',
      type: 'split',
      condition: 'event.value > 100 and person.email != null',
      yes: [hook('vip', '/split-yes')],
      no: [hook('regular', '/split-no')],
    },
    hook('always', '/split-after'),
  ]);
  const big = await waitForRun(stack, await startOneRun(stack, metric, { properties: { value: 150 } }));
  expect(step(big, 'big')).toMatchObject({ status: 'completed', taken: 'yes' });
  expect(step(big, 'vip')).toMatchObject({ status: 'delivered', parentId: 'big', branch: 'yes' });
  expect(step(big, 'regular').status).toBe('not_taken');

  const small = await waitForRun(stack, await startOneRun(stack, metric, { properties: { value: 50 } }));
  expect(step(small, 'big').taken).toBe('no');
  expect(step(small, 'vip').status).toBe('not_taken');
  expect(step(small, 'regular').status).toBe('delivered');

  expect(JSON.parse(receiver.received('/split-yes')[0]!.body)).toEqual({
    email: 'ada@example.com',
    value: 150,
  });
  expect(JSON.parse(receiver.received('/split-no')[0]!.body)).toEqual({
    email: 'ada@example.com',
    value: 50,
  });
  expect(receiver.received('/split-after')).toHaveLength(2);
});

test('the worker killed during a delay and started again: the run completes', async () => {
  const metric = uniqueMetric('Crash');
  await createLiveFlow(stack, metric, [
    { id: 'wait', type: 'delay', seconds: 3 },
    hook('after', '/after-crash'),
  ]);
  const runId = await startOneRun(stack, metric);
  await poll(
    () => getRun(stack, runId),
    (r) => step(r, 'wait').status === 'waiting',
    15_000,
  );
  await stack.killWorker();
  await new Promise((r) => setTimeout(r, 1000));
  await stack.startWorker();
  const run = await waitForRun(stack, runId, 60_000);
  expect(step(run, 'after').status).toBe('delivered');
  expect(receiver.received('/after-crash')).toHaveLength(1);
});

test('flows: create, read, list, patch (new version), delete', async () => {
  const metric = uniqueMetric('Crud');
  const created = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: 'Welcome',
    trigger: { type: 'metric', metric },
    steps: [{ type: 'delay', seconds: 60 }],
  });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ name: 'Welcome', status: 'draft', version: 1 });
  expect(created.body.steps[0]!.id).toMatch(/^s_[0-9a-f]{8}$/);
  const id = created.body.id;

  // A draft has no webhook steps to check; reads carry no checks.
  const { checks, ...flowOnly } = created.body as PublicFlow & { checks: unknown[] };
  expect(checks).toEqual([]);
  expect((await stack.request<PublicFlow>('GET', `/api/flows/${id}`)).body).toEqual(flowOnly);
  const list = await stack.request<{ flows: PublicFlow[] }>('GET', '/api/flows');
  expect(list.body.flows.map((f) => f.id)).toContain(id);

  const patched = await stack.request<PublicFlow>('PATCH', `/api/flows/${id}`, {
    name: 'Welcome v2',
    status: 'live',
  });
  expect(patched.status).toBe(200);
  expect(patched.body).toMatchObject({
    name: 'Welcome v2',
    status: 'live',
    version: 2,
    steps: created.body.steps,
  });

  expect((await stack.request('DELETE', `/api/flows/${id}`)).status).toBe(204);
  expect((await stack.request('GET', `/api/flows/${id}`)).status).toBe(404);
  expect((await stack.request('DELETE', `/api/flows/${id}`)).status).toBe(404);
});

test('header values are masked in every response', async () => {
  const metric = uniqueMetric('Masked');
  const flow = await createLiveFlow(stack, metric, [
    { ...hook('h', '/masked'), headers: { Authorization: 'Bearer very-secret-token-123' } },
  ]);
  const shown = (flow.steps[0] as { headers: Record<string, string> }).headers.Authorization!;
  expect(shown).not.toContain('very-secret-token-123');
  expect(shown).toMatch(/^Bea••••[0-9a-f]{8}$/);
  const again = await stack.request<PublicFlow>('GET', `/api/flows/${flow.id}`);
  expect(JSON.stringify(again.body)).not.toContain('very-secret-token-123');
});

describe('bad input gets a clear 4xx naming the field', () => {
  const flowWith = (steps: unknown[]) => ({ name: 'bad', trigger: { type: 'metric', metric: 'x' }, steps });
  const cases: [string, string, RegExp, unknown][] = [
    ['missing url', 'steps.0.url', /required/, flowWith([{ type: 'webhook', body: '{}' }])],
    [
      'http url',
      'steps.0.url',
      /https/,
      flowWith([{ type: 'webhook', url: 'http://example.com', body: '{}' }]),
    ],
    ['negative delay', 'steps.0.seconds', /negative/, flowWith([{ type: 'delay', seconds: -1 }])],
    ['unknown step type', 'steps.0.type', /webhook/, flowWith([{ type: 'email' }])],
    [
      'bad condition',
      'steps.0.condition',
      /condition/,
      flowWith([{ type: 'split', condition: 'event.value >', yes: [], no: [] }]),
    ],
    [
      'nested bad url',
      'steps.0.yes.0.url',
      /absolute URL/,
      flowWith([
        { type: 'split', condition: 'true', yes: [{ type: 'webhook', url: 'nope', body: '{}' }], no: [] },
      ]),
    ],
    [
      'reserved header',
      'steps.0.headers.Content-Type',
      /set by hookflow/,
      flowWith([
        {
          type: 'webhook',
          url: 'https://example.com',
          headers: { 'Content-Type': 'text/plain' },
          body: '{}',
        },
      ]),
    ],
    [
      'template syntax',
      'steps.0.body',
      /line 1/,
      flowWith([{ type: 'webhook', url: 'https://example.com', body: '{"a": "{{ person.email "}' }]),
    ],
    [
      'method GET',
      'steps.0.method',
      /POST only/,
      flowWith([{ type: 'webhook', method: 'GET', url: 'https://example.com', body: '{}' }]),
    ],
    [
      'duplicate ids',
      'steps.1.id',
      /twice/,
      flowWith([
        { id: 'a', type: 'delay', seconds: 1 },
        { id: 'a', type: 'delay', seconds: 1 },
      ]),
    ],
    ['unknown field', 'colour', /not a known field/, { ...flowWith([]), colour: 'red' }],
    ['missing name', 'name', /required/, { trigger: { type: 'metric', metric: 'x' } }],
  ];
  test.each(cases)('POST /api/flows with %s → 422 at %s', async (_label, path, message, body) => {
    const res = await stack.request<ErrorResponse>('POST', '/api/flows', body);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('validation_failed');
    const detail = res.body.error.details.find((d) => d.path === path);
    expect(detail).toBeDefined();
    expect(detail!.message).toMatch(message);
  });

  test('events: profile without identifier, bad time, missing metric', async () => {
    const res = await stack.request<ErrorResponse>('POST', '/api/events', {
      profile: { first_name: 'Ada' },
      time: 'yesterday',
    });
    expect(res.status).toBe(422);
    const paths = res.body.error.details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['metric', 'profile', 'time']));
  });

  test('malformed JSON → 400, unknown route → 404, unknown run → 404, empty patch → 422', async () => {
    const malformed = await stack.request<ErrorResponse>('POST', '/api/events', '{"metric": ');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('malformed_json');
    const missing = await stack.request<ErrorResponse>('GET', '/api/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect((await stack.request('GET', '/api/runs/run_unknown')).status).toBe(404);
    const flow = await createLiveFlow(stack, uniqueMetric('Patch'), []);
    const empty = await stack.request<ErrorResponse>('PATCH', `/api/flows/${flow.id}`, {});
    expect(empty.status).toBe(422);
  });
});

// Last in this file: it stops the dev server under the running API.
test('GET /ready answers 503 naming Temporal when it does not answer; /health still answers 200', async () => {
  await stack.server.stop();
  const started = Date.now();
  const res = await stack.request('GET', '/ready');
  // Temporal gets one second to answer.
  expect(Date.now() - started).toBeLessThan(3000);
  expect(res).toEqual({
    status: 503,
    body: {
      status: 'unavailable',
      database: 'ok',
      migrations: 'ok',
      temporal: 'unavailable',
      failed: ['temporal'],
    },
  });
  expect(await stack.request('GET', '/health')).toEqual({ status: 200, body: { status: 'ok' } });
});
