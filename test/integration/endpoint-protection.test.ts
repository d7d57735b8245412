import fs from 'node:fs';
import path from 'node:path';
import { createTestPki } from '../harness/certs';
import type { KeyPair } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { ARTIFACTS, FAST_RETRY_ENV, poll, Stack } from '../harness/stack';
import { launchBrowser, signInThroughPage } from '../support/browser';
import {
  createLiveFlow,
  emailValueHook,
  getRun,
  postEvent,
  step,
  uniqueMetric,
  waitForRun,
} from '../support/flows';

/**
 * Endpoint protection on the real stack (issue 16): a concurrency limit per destination, the
 * endpoint's Retry-After holding every run, and the circuit breaker pausing deliveries without
 * using up their retries. Breaker settings are lowered so a test opens the circuit in seconds.
 */

let stack: Stack;
let tls: KeyPair;
const receivers: Receiver[] = [];

const LIMIT = 4;
const COOLDOWN_S = 4;

beforeAll(async () => {
  const pki = createTestPki();
  tls = pki.good;
  stack = await Stack.start({
    name: 'endpoint-protection',
    caCert: pki.caCert,
    env: {
      ...FAST_RETRY_ENV,
      HOOKFLOW_RETRY_MAX_ATTEMPTS: '12',
      HOOKFLOW_DESTINATION_CONCURRENCY: String(LIMIT),
      HOOKFLOW_DESTINATION_RATE_PER_SECOND: '0',
      HOOKFLOW_DESTINATION_WAIT_MS: '2000',
      HOOKFLOW_BREAKER_WINDOW_SECONDS: '60',
      HOOKFLOW_BREAKER_MIN_ATTEMPTS: '5',
      HOOKFLOW_BREAKER_FAILURE_PERCENT: '90',
      HOOKFLOW_BREAKER_COOLDOWN_SECONDS: String(COOLDOWN_S),
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  for (const r of receivers) await r.close().catch(() => undefined);
});

async function receiver(port = 0): Promise<Receiver> {
  const r = await Receiver.start(tls, port);
  receivers.push(r);
  return r;
}

/** Posts `n` events, a few at a time; returns the run ids. */
async function postMany(metric: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, () => postEvent(stack, metric)),
    );
    for (const res of batch) {
      if (res.status !== 202) throw new Error(`event refused: ${res.status} ${JSON.stringify(res.body)}`);
      ids.push(...res.body.runs.map((r) => r.runId));
    }
  }
  return ids;
}

interface Stats {
  counts: Record<'pending' | 'retrying' | 'delivered' | 'failed' | 'skipped', number>;
}
const stats = async (flowId: string) =>
  (await stack.request<Stats>('GET', `/api/webhooks/stats?flowId=${flowId}`)).body.counts;

interface Paused {
  id: string;
  origin: string;
  circuit: string;
  reason: string;
  since: string;
  until: string | null;
}
const paused = async () =>
  (await stack.request<{ destinations: Paused[] }>('GET', '/api/destinations/paused')).body.destinations;

async function workerMetric(name: string): Promise<number> {
  const text = await (await fetch(stack.workerMetricsUrl!)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

test('200 deliveries to one slow endpoint never exceed the concurrency limit, and all arrive', async () => {
  const slow = await receiver();
  slow.script('/slow', { status: 200, delayMs: 200 });
  const metric = uniqueMetric('Slow Endpoint');
  const flow = await createLiveFlow(stack, metric, [emailValueHook('notify', slow.url('/slow'))]);
  await postMany(metric, 200);
  await poll(
    () => stats(flow.id),
    (c) => c.delivered === 200,
    180_000,
    500,
  );
  expect(slow.received('/slow')).toHaveLength(200);
  expect(slow.maxInFlight).toBe(LIMIT); // the limit was reached, never passed
  const counts = await stats(flow.id);
  expect(counts).toMatchObject({ failed: 0, skipped: 0, retrying: 0 });
}, 240_000);

test("a 429 with Retry-After: 2 holds every run's requests to that host for 2 s", async () => {
  const busy = await receiver();
  busy.script('/busy', { status: 429, headers: { 'retry-after': '2' } }, { status: 200 });
  const first = uniqueMetric('Rate Limited');
  const other = uniqueMetric('Same Host');
  await createLiveFlow(stack, first, [emailValueHook('notify', busy.url('/busy'))]);
  await createLiveFlow(stack, other, [emailValueHook('notify', busy.url('/other'))]);

  const [runId] = await postMany(first, 1);
  const limited = await poll(
    () => Promise.resolve(busy.received('/busy')),
    (r) => r.length >= 1,
    30_000,
    20,
  );
  const at429 = limited[0]!.at;
  // Other runs, of another flow, to the same host while the hold lasts.
  const others = await postMany(other, 5);
  await Promise.all([runId!, ...others].map((id) => waitForRun(stack, id)));

  const later = busy.requests.filter((r) => r.method === 'POST' && r.at > at429);
  expect(later).toHaveLength(6); // the retry of /busy and the five others
  const earliest = Math.min(...later.map((r) => r.at));
  expect(earliest - at429).toBeGreaterThanOrEqual(1900);
  for (const id of [runId!, ...others])
    expect(step(await getRun(stack, id), 'notify').status).toBe('delivered');
}, 120_000);

test('an endpoint down for 30 s opens the circuit; deliveries wait, then all arrive after the probe', async () => {
  const downPort = (await receiver()).port;
  await receivers.pop()!.close(); // nothing listens there now: connection refused
  const metric = uniqueMetric('Down Endpoint');
  const url = `https://127.0.0.1:${downPort}/down`;
  const origin = `https://127.0.0.1:${downPort}`;
  const flow = await createLiveFlow(stack, metric, [emailValueHook('notify', url)]);
  const downAt = Date.now();
  const runIds = await postMany(metric, 12);

  const [open] = await poll(
    paused,
    (p) => p.some((d) => d.origin === origin && d.circuit === 'open'),
    30_000,
    200,
  );
  const mine = (await paused()).find((d) => d.origin === origin)!;
  expect(mine.reason).toMatch(/attempts failed .* within 1 min; last: /);
  expect(Date.parse(mine.since)).toBeGreaterThanOrEqual(downAt - 1000);
  expect(open).toBeDefined();
  expect(
    await workerMetric('hookflow_destination_circuit_transitions_total{to="open"}'),
  ).toBeGreaterThanOrEqual(1);
  expect(await workerMetric('hookflow_destinations_open')).toBeGreaterThanOrEqual(1);

  // While it is paused, deliveries wait as retrying, saying why; none failed.
  const waiting = await poll(
    () =>
      stack.request<{ deliveries: { status: string; reason: string | null }[] }>(
        'GET',
        `/api/webhooks/deliveries?flowId=${flow.id}&limit=50`,
      ),
    (r) =>
      r.body.deliveries.length === 12 &&
      r.body.deliveries.some((d) => d.reason?.startsWith('destination paused')),
    30_000,
    300,
  );
  expect(waiting.body.deliveries.every((d) => d.status === 'retrying')).toBe(true);

  await new Promise((r) => setTimeout(r, Math.max(0, downAt + 30_000 - Date.now())));
  const back = await receiver(downPort);
  const runs = await Promise.all(runIds.map((id) => waitForRun(stack, id, 90_000)));
  for (const run of runs) expect(step(run, 'notify').status).toBe('delivered');
  expect(back.received('/down')).toHaveLength(12);
  expect(await stats(flow.id)).toMatchObject({ delivered: 12, failed: 0, skipped: 0, retrying: 0 });
  expect((await paused()).some((d) => d.origin === origin)).toBe(false);
  expect(
    await workerMetric('hookflow_destination_circuit_transitions_total{to="closed"}'),
  ).toBeGreaterThanOrEqual(1);
  expect(
    await workerMetric('hookflow_destination_circuit_transitions_total{to="half_open"}'),
  ).toBeGreaterThanOrEqual(1);
}, 180_000);

test('the analytics page lists a paused destination with why and since when; Resume now lets deliveries go', async () => {
  const flaky = await receiver();
  flaky.script('/flaky', { status: 503 });
  const origin = `https://127.0.0.1:${flaky.port}`;
  const metric = uniqueMetric('Flaky Endpoint');
  await createLiveFlow(stack, metric, [emailValueHook('notify', flaky.url('/flaky'))]);
  const runIds = await postMany(metric, 6);
  await poll(paused, (p) => p.some((d) => d.origin === origin && d.circuit === 'open'), 30_000, 200);
  const { id } = (await paused()).find((d) => d.origin === origin)!;

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launchBrowser();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const owner = stack.owner!;
    await signInThroughPage(page, stack.apiUrl, { ...owner, code: owner.recoveryCodes.shift()! });
    const row = page.locator(`[data-testid="paused-${id}"]`);
    await row.waitFor();
    const text = await row.innerText();
    expect(text).toContain(origin);
    expect(text).toMatch(/paused \(circuit open\)|probing \(half-open\)/);
    expect(text).toMatch(/attempts failed|the probe failed/);
    expect(text).toContain('HTTP 503');
    // "Since" is shown as a local time, with the exact instant as its title.
    const since = await row.locator('time').first().getAttribute('title');
    expect(Date.now() - Date.parse(since!)).toBeLessThan(60_000);
    await page.screenshot({ path: path.join(ARTIFACTS, 'paused-destination.png'), fullPage: true });

    // The endpoint is fixed; a person resumes it instead of waiting for the next probe.
    flaky.script('/flaky', { status: 200 });
    await row.getByRole('button', { name: 'Resume now' }).click();
    await page.locator(`#note-${id}[data-status="resumed"]`).waitFor();
    await page.reload();
    await page.locator('h1').waitFor();
    expect(await page.locator(`[data-testid="paused-${id}"]`).count()).toBe(0);
  } finally {
    await browser.close();
  }
  const audit = await stack.request<{ entries: { action: string; fields: string[] }[] }>('GET', '/api/audit');
  expect(audit.body.entries.find((e) => e.action === 'destination.resume')?.fields).toEqual([origin]);
  const runs = await Promise.all(runIds.map((rid) => waitForRun(stack, rid, 60_000)));
  for (const run of runs) expect(step(run, 'notify').status).toBe('delivered');
}, 180_000);

test('resuming an unknown destination is a 404 in the error shape', async () => {
  const res = await stack.request<{ error: { code: string } }>('POST', '/api/destinations/dst_nope/resume');
  expect(res.status).toBe(404);
  expect(res.body.error.code).toBe('not_found');
});

test("the builder's advanced section sets a step's own endpoint limits, checked as typed", async () => {
  const r = await receiver();
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'Limits',
    trigger: { type: 'metric', metric: uniqueMetric('Limits') },
    status: 'draft',
    steps: [{ id: 'hook', type: 'webhook', url: r.url('/limits'), body: '{"a": 1}' }],
  });
  const browser = await launchBrowser();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const owner = stack.owner!;
    await signInThroughPage(
      page,
      stack.apiUrl,
      { ...owner, code: owner.recoveryCodes.shift()! },
      `/flows/${flow.body.id}`,
    );
    await page.click('[data-testid=step][data-step-id="hook"] .step-open');
    await page.locator('[data-testid=webhook-editor]').waitFor();
    await page.click('[data-testid=webhook-advanced] summary');
    const message = page.locator('[data-testid=limits-message]');
    await page.fill('[data-testid=limits-concurrency]', '0');
    await poll(
      () => message.innerText(),
      (t) => t === 'Requests at once must be between 1 and 100000.',
      10_000,
      100,
    );
    expect(await page.getAttribute('[data-testid=limits-concurrency]', 'aria-invalid')).toBe('true');
    await page.fill('[data-testid=limits-concurrency]', '2');
    await page.fill('[data-testid=limits-ratePerSecond]', '0.5');
    await poll(
      () => message.innerText(),
      (t) => t === '',
      10_000,
      100,
    );
    await page.click('[data-testid=save-flow]');
    await poll(
      () => page.locator('[data-testid=save-status]').innerText(),
      (t) => /Saved/.test(t),
      20_000,
      100,
    );
  } finally {
    await browser.close();
  }
  const saved = await stack.request<{ steps: { limits?: unknown }[] }>('GET', `/api/flows/${flow.body.id}`);
  expect(saved.body.steps[0]!.limits).toEqual({ concurrency: 2, ratePerSecond: 0.5 });
  // The API checks them as well.
  const bad = await stack.request<{ error: { details: { path: string; message: string }[] } }>(
    'PATCH',
    `/api/flows/${flow.body.id}`,
    {
      steps: [
        { id: 'hook', type: 'webhook', url: r.url('/limits'), body: '{"a": 1}', limits: { concurrency: 0 } },
      ],
    },
  );
  expect(bad.status).toBe(422);
  expect(bad.body.error.details).toEqual(
    expect.arrayContaining([{ path: 'steps.0.limits.concurrency', message: 'must be at least 1' }]),
  );
}, 120_000);
