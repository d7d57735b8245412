import Ajv2020 from 'ajv/dist/2020';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import type { Db } from '../../src/db';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, signInThroughPage } from '../support/browser';
import type { ErrorResponse, RunsResponse } from '../support/api-types';
import { createLiveFlow, emailValueHook, uniqueMetric, waitForRun } from '../support/flows';

/**
 * Temporal stopped for about 30 s under the real stack: the API stays live, says what is down,
 * refuses beyond the backlog bound with 503 + Retry-After (storing nothing), starts while Temporal
 * is down, and starts runs again within seconds of Temporal coming back. One outage for the whole
 * file: every restart of the dev server costs seconds.
 */

const BACKLOG_MAX = 3;
const OUTAGE_MS = 30_000;

let stack: Stack;
let receiver: Receiver;
let db: Db;
let browser: Browser | undefined;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({
    name: 'temporal-outage',
    caCert: pki.caCert,
    env: {
      HOOKFLOW_RUN_BACKLOG_MAX: String(BACKLOG_MAX),
      HOOKFLOW_RUN_SWEEP_SECONDS: '1',
      // Requests cut by the API restart below need not hold it for the default 30 s.
      HOOKFLOW_SHUTDOWN_GRACE_SECONDS: '1',
    },
  });
  db = await stack.openDatabase();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await db?.destroy();
  await stack?.stop();
  await receiver?.close();
});

interface OpenApiDoc {
  paths: Record<
    string,
    Record<
      string,
      { responses: Record<string, { headers?: object; content: Record<string, { schema: object }> }> }
    >
  >;
  components: object;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

function event(metric: string, n: number) {
  return {
    metric,
    unique_id: `order-${n}`,
    profile: { email: `buyer-${n}@example.com` },
    properties: { value: n },
  };
}

async function postRaw(body: unknown): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  const res = await fetch(`${stack.apiUrl}/api/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.owner!.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

async function unstartedRuns(): Promise<number> {
  const row = await db
    .selectFrom('runs')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('started_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The queued-runs line of the Webhook Analytics page as the owner sees it, or null when absent. */
async function queuedLine(page: Page): Promise<string | null> {
  await page.goto(`${stack.apiUrl}/webhooks`);
  await page.locator('h1').waitFor();
  const line = page.locator('[data-testid="runs-queued"]');
  return (await line.count()) === 0 ? null : await line.innerText();
}

test('a Temporal outage: live API, bounded backlog with 503, fast recovery', async () => {
  const metric = uniqueMetric('Outage');
  const flow = await createLiveFlow(stack, metric, [emailValueHook('notify', receiver.url('/outage'))]);
  browser = await launchBrowser();
  const page = await browser.newPage();
  const owner = stack.owner!;
  await signInThroughPage(page, stack.apiUrl, { ...owner, code: owner.recoveryCodes.shift()! });
  expect(await queuedLine(page)).toBeNull();

  await stack.stopTemporal();
  const outageStarted = Date.now();

  // Liveness never asks Temporal; readiness names it within its 1 s deadline.
  for (let i = 0; i < 5; i++) {
    const health = await timed(() => stack.request('GET', '/health'));
    expect(health.value.status).toBe(200);
    expect(health.ms).toBeLessThan(1000);
  }
  const ready = await timed(() => stack.request<{ temporal: string; failed: string[] }>('GET', '/ready'));
  expect(ready.value.status).toBe(503);
  expect(ready.value.body).toMatchObject({ temporal: 'unavailable', failed: ['temporal'] });
  expect(ready.ms).toBeLessThan(1500);

  // Three events fill the backlog: their runs are recorded, none can start. (Whether their answers
  // wait for Temporal is the ingestion path's business; they are cut by the API restart below.)
  const filling = [1, 2, 3].map((n) => postRaw(event(metric, n)).catch(() => undefined));
  await poll(unstartedRuns, (n) => n === BACKLOG_MAX, 10_000);

  // The API counts the backlog once a second (the bound is soft by one second of intake): once its
  // count says 3, the fourth is refused with 503, Retry-After and the error shape, and nothing of it
  // is written, neither the event nor its profile.
  await poll(
    () => stack.request<string>('GET', '/metrics'),
    (m) => /^hookflow_runs_queued 3$/m.test(m.body),
    5_000,
  );
  const refused = await postRaw(event(metric, 4));
  expect(refused.status).toBe(503);
  expect(Number(refused.retryAfter)).toBeGreaterThan(0);
  const err = (refused.body as ErrorResponse).error;
  expect(err.code).toBe('backlog_full');
  expect(err.message).toMatch(/The event was NOT stored: 3 runs are waiting for Temporal \(the limit is 3\)/);
  expect(err.message).toMatch(/same unique_id/);
  expect(err.details).toEqual([]);
  expect(await db.selectFrom('events').select('id').where('unique_id', '=', 'order-4').execute()).toEqual([]);
  expect(
    await db.selectFrom('profiles').select('id').where('email', '=', 'buyer-4@example.com').execute(),
  ).toEqual([]);
  expect(await unstartedRuns()).toBe(BACKLOG_MAX);
  // The document the API serves describes this answer: its header and its body.
  const doc = (await stack.request<OpenApiDoc>('GET', '/api/openapi.json')).body;
  const documented = doc.paths['/api/events']!.post!.responses['503']!;
  expect(Object.keys(documented.headers ?? {})).toEqual(['Retry-After']);
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema({ $id: 'doc', components: doc.components });
  const schema = JSON.parse(
    JSON.stringify(documented.content['application/json']!.schema).replaceAll(
      '"#/components',
      '"doc#/components',
    ),
  ) as object;
  expect(ajv.validate(schema, refused.body)).toBe(true);
  // Other routes that start runs refuse the same way.
  const join = await stack.request<ErrorResponse>('POST', '/api/profiles', { email: 'late@example.com' });
  expect(join.status).toBe(503);
  expect(join.body.error.code).toBe('backlog_full');

  // The backlog is a line on the analytics page.
  expect(await queuedLine(page)).toBe(
    '3 runs queued, waiting for Temporal. They start as soon as Temporal accepts them.',
  );

  // The API starts while Temporal is down (and counts the backlog at once).
  await stack.restartApi();
  await Promise.all(filling);
  expect((await stack.request('GET', '/health')).status).toBe(200);
  expect((await postRaw(event(metric, 4))).status).toBe(503);

  await new Promise((r) => setTimeout(r, Math.max(0, outageStarted + OUTAGE_MS - Date.now())));
  await stack.startTemporal();
  // The API's client, whose reconnect backoff grew all through the outage, is back within seconds.
  const back = await timed(() =>
    poll(
      () => stack.request('GET', '/ready'),
      (r) => r.status === 200,
      20_000,
      100,
    ),
  );
  expect(back.ms).toBeLessThan(5000);

  // The queued runs start, the backlog empties, and the refused event posted again is taken.
  const accepted = await timed(() =>
    poll(
      () => postRaw(event(metric, 4)),
      (r) => r.status === 202,
      20_000,
      250,
    ),
  );
  expect(accepted.ms).toBeLessThan(5000);
  const runs = (accepted.value.body as RunsResponse).runs;
  expect(runs).toEqual([{ flowId: flow.id, runId: expect.any(String) as string }]);
  await waitForRun(stack, runs[0]!.runId);
  await poll(
    () => Promise.resolve(receiver.received('/outage').length),
    (n) => n === 4,
    30_000,
  );
  expect(await unstartedRuns()).toBe(0);
  await poll(
    () => stack.request<string>('GET', '/metrics'),
    (m) => /^hookflow_runs_queued 0$/m.test(m.body),
    5_000,
  );
  expect(await queuedLine(page)).toBeNull();
}, 240_000);
