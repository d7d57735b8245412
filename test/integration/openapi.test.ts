import Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import type { RecordedResponse } from '../harness/stack';
import { Stack } from '../harness/stack';
import { createLiveFlow, emailValueHook, startOneRun, uniqueMetric, waitForRun } from '../support/flows';

/**
 * The document the API serves describes what it answers: real answers of the real stack, recorded
 * by the harness (sign-in and key creation included), validate against its response schemas.
 */

let stack: Stack;
let receiver: Receiver;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'openapi', caCert: pki.caCert, record: true });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>>; components: object };

/** The documented operation a recorded request went to, by method and path template. */
function operationFor(doc: Document, rec: RecordedResponse): { template: string; op: Operation } | undefined {
  const path = rec.path.split('?')[0]!;
  for (const [template, item] of Object.entries(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`);
    const op = item[rec.method.toLowerCase()];
    if (op && pattern.test(path)) return { template, op };
  }
  return undefined;
}

test('recorded answers of the API validate against /api/openapi.json', async () => {
  // The document is public.
  const served = await stack.requestAs<Document>(undefined, 'GET', '/api/openapi.json');
  expect(served.status).toBe(200);
  const doc = served.body;

  // A representative walk: flows, an event and its delivered run, the queues, the refusals.
  const metric = uniqueMetric('Documented');
  const flow = await createLiveFlow(stack, metric, [emailValueHook('notify', receiver.url('/documented'))]);
  await stack.request('GET', `/api/flows/${flow.id}`);
  await stack.request('GET', '/api/flows');
  const runId = await startOneRun(stack, metric);
  await waitForRun(stack, runId);
  await stack.request('GET', `/api/runs/${runId}`);
  await stack.request('GET', `/api/webhooks/deliveries?flowId=${flow.id}`);
  await stack.request('GET', '/api/webhooks/stats');
  await stack.request('GET', '/health');
  await stack.request('GET', '/ready');
  await stack.request('GET', '/api/auth/me');
  // Beyond flows: profiles, lists, segments, the catalog, one delivery, accounts.
  const session = stack.owner!.session.token;
  const more: [token: string | undefined, method: string, path: string, body?: unknown][] = [
    [undefined, 'POST', '/api/profiles', { email: 'grace@example.com', first_name: 'Grace' }],
    [undefined, 'GET', '/api/profiles?email=grace@example.com'],
    [undefined, 'POST', '/api/lists', { name: 'Documented list' }],
    [undefined, 'GET', '/api/lists'],
    [undefined, 'GET', '/api/segments'],
    [undefined, 'PUT', '/api/catalog/items/DOC-1', { title: 'Doc', price: 10, currency: 'USD' }],
    [undefined, 'GET', '/api/catalog/items'],
    [undefined, 'GET', `/api/flows/${flow.id}/variables`],
    [undefined, 'POST', `/api/flows/${flow.id}/steps/notify/preview`, {}],
    [session, 'GET', '/api/users'],
    [session, 'GET', '/api/keys'],
    [session, 'GET', '/api/audit'],
  ];
  for (const [token, method, path, body] of more) {
    const res = await stack.requestAs(token ?? stack.owner!.apiKey, method, path, body);
    expect([method, path, res.status]).toEqual([method, path, expect.any(Number)]);
    expect([method, path, res.status < 300]).toEqual([method, path, true]);
  }
  const profile = await stack.request<{ id: string }>('POST', '/api/profiles', { email: 'ada@example.com' });
  for (const [method, path, body] of [
    ['GET', `/api/profiles/${profile.body.id}/events`],
    ['GET', '/api/events/metrics'],
    ['POST', `/api/flows/${flow.id}/duplicate`],
    ['POST', `/api/flows/${flow.id}/preview`, { body: '{"email": "{{ person.email }}"}' }],
  ] as const) {
    const res = await stack.request(method, path, body);
    expect([method, path, res.status < 300]).toEqual([method, path, true]);
  }
  const list = await stack.request<{ id: string }>('POST', '/api/lists', { name: 'Members' });
  await stack.request('POST', `/api/lists/${list.body.id}/members`, {
    profiles: [{ email: 'grace@example.com' }],
  });
  await stack.request('GET', `/api/lists/${list.body.id}/members`);
  const delivered = await stack.request<{ deliveries: { id: string }[] }>(
    'GET',
    `/api/webhooks/deliveries?flowId=${flow.id}`,
  );
  await stack.request('GET', `/api/webhooks/deliveries/${delivered.body.deliveries[0]!.id}`);
  expect((await stack.request('POST', '/api/flows', '{"name": ')).status).toBe(400);
  expect((await stack.requestAs(undefined, 'GET', '/api/flows')).status).toBe(401);
  const narrow = await stack.requestAs<{ key: string }>(stack.owner!.session.token, 'POST', '/api/keys', {
    name: 'events only',
    scopes: ['events:write'],
  });
  expect((await stack.requestAs(narrow.body.key, 'GET', '/api/flows')).status).toBe(403);
  expect((await stack.request('GET', '/api/runs/run_unknown')).status).toBe(404);
  expect((await stack.request('POST', '/api/flows', { name: 'no trigger', steps: [] })).status).toBe(422);
  expect((await stack.request('GET', '/api/webhooks/deliveries?limit=0')).status).toBe(422);

  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema({ $id: 'doc', components: doc.components });
  const validators = new Map<object, ValidateFunction>();
  const recorded = stack.recorded().filter((r) => r.path !== '/api/openapi.json');
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const rec of recorded) {
    const found = operationFor(doc, rec);
    if (!found) {
      problems.push(`${rec.method} ${rec.path}: not in the document`);
      continue;
    }
    const response = found.op.responses[String(rec.status)];
    if (!response) {
      problems.push(`${rec.method} ${found.template}: status ${rec.status} not documented`);
      continue;
    }
    seen.add(`${rec.method} ${found.template} ${rec.status}`);
    const schema = response.content?.['application/json']?.schema;
    if (!schema) {
      if (rec.body !== undefined)
        problems.push(`${rec.method} ${found.template} ${rec.status}: body not documented`);
      continue;
    }
    let validate = validators.get(schema);
    if (!validate) {
      const resolved = JSON.parse(
        JSON.stringify(schema).replaceAll('"#/components', '"doc#/components'),
      ) as object;
      validate = ajv.compile(resolved);
      validators.set(schema, validate);
    }
    if (!validate(rec.body)) {
      problems.push(
        `${rec.method} ${found.template} ${rec.status}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(rec.body).slice(0, 300)}`,
      );
    }
  }
  expect(problems).toEqual([]);
  expect([...seen].sort()).toEqual(
    expect.arrayContaining([
      'POST /api/flows 201',
      'GET /api/flows/{id} 200',
      'GET /api/flows 200',
      'POST /api/events 202',
      'GET /api/runs/{runId} 200',
      'GET /api/webhooks/deliveries 200',
      'GET /api/webhooks/stats 200',
      'POST /api/auth/sign-in 200',
      'POST /api/keys 201',
      'POST /api/profiles 201',
      'POST /api/lists 201',
      'POST /api/lists/{id}/members 200',
      'PUT /api/catalog/items/{id} 200',
      'GET /api/webhooks/deliveries/{id} 200',
      'GET /api/audit 200',
      'POST /api/flows/{id}/duplicate 201',
      'GET /api/profiles/{id}/events 200',
      'POST /api/flows 400',
      'GET /api/flows 401',
      'GET /api/flows 403',
      'GET /api/runs/{runId} 404',
      'POST /api/flows 422',
      'GET /api/webhooks/deliveries 422',
    ]),
  );
}, 120_000);
