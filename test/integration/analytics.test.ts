import fs from 'node:fs';
import path from 'node:path';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { ARTIFACTS, poll, Stack } from '../harness/stack';
import { launchBrowser, signInThroughPage } from '../support/browser';
import type { ErrorResponse, PublicFlow } from '../support/api-types';
import { createLiveFlow, startOneRun, step, uniqueMetric, waitForRun } from '../support/flows';

/** Webhook Analytics on the real stack: records, queues, stats, resend, and the page in Chromium. */

interface Summary {
  runId: string;
  id: string;
  status: string;
  attempts: number;
  reason: string | null;
  lastHttpStatus: number | null;
  stepId: string;
  resentTo: string | null;
  resendOf: string | null;
  manual: boolean;
}
interface Detail {
  delivery: Summary;
  attempts: {
    attempt: number;
    class: string;
    httpStatus: number | null;
    manual: boolean;
    responseExcerpt: string | null;
  }[];
  runUrl: string;
}

let stack: Stack;
let receiver: Receiver;
let flowId: string;
let failedId: string;
let skippedId: string;
const metric = uniqueMetric('Analytics');
const fast = { retry: { maxAttempts: 2, initialIntervalMs: 100, maxIntervalMs: 100 } };

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'analytics', caCert: pki.caCert });
  receiver.script('/loyalty', { status: 503, body: '{"error": "maintenance"}' });
  receiver.script('/crm', { status: 404, body: 'no such hook' });
  const flow = await createLiveFlow(stack, metric, [
    {
      id: 'loyalty',
      type: 'webhook',
      name: 'Loyalty points',
      url: receiver.url('/loyalty'),
      body: '{"email": "{{ person.email }}"}',
      ...fast,
    },
    {
      id: 'crm',
      type: 'webhook',
      name: 'CRM sync',
      url: receiver.url('/crm'),
      body: '{"email": "{{ person.email }}"}',
      ...fast,
    },
    {
      id: 'ok',
      type: 'webhook',
      name: 'Fulfilment',
      url: receiver.url('/ok'),
      body: '{"v": {{ event.value }}}',
      ...fast,
    },
  ]);
  flowId = flow.id;
  const run = await waitForRun(stack, await startOneRun(stack, metric));
  expect([step(run, 'loyalty').status, step(run, 'crm').status, step(run, 'ok').status]).toEqual([
    'failed',
    'skipped',
    'delivered',
  ]);
  failedId = step(run, 'loyalty').deliveryId!;
  skippedId = step(run, 'crm').deliveryId!;
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

test('the queues list failed and skipped deliveries with a one-line reason', async () => {
  const failed = await stack.request<{ deliveries: Summary[] }>(
    'GET',
    `/api/webhooks/deliveries?status=failed&flowId=${flowId}`,
  );
  expect(failed.body.deliveries).toEqual([
    expect.objectContaining({
      id: failedId,
      stepId: 'loyalty',
      status: 'failed',
      attempts: 2,
      lastHttpStatus: 503,
    }),
  ]);
  expect(failed.body.deliveries[0]!.reason).toMatch(/^HTTP 503 Service Unavailable$/);
  const skipped = await stack.request<{ deliveries: Summary[] }>(
    'GET',
    `/api/webhooks/deliveries?status=skipped&flowId=${flowId}`,
  );
  expect(skipped.body.deliveries.map((d) => [d.id, d.attempts, d.lastHttpStatus])).toEqual([
    [skippedId, 1, 404],
  ]);
});

test('a delivery shows every attempt, its excerpt, and the link to its run', async () => {
  const res = await stack.request<Detail>('GET', `/api/webhooks/deliveries/${failedId}`);
  expect(res.status).toBe(200);
  expect(res.body.attempts.map((a) => [a.attempt, a.class, a.httpStatus, a.manual])).toEqual([
    [1, 'retryable', 503, false],
    [2, 'retryable', 503, false],
  ]);
  expect(res.body.attempts[0]!.responseExcerpt).toBe('{"error": "maintenance"}');
  expect(res.body.runUrl).toMatch(/\/namespaces\/default\/workflows\/run_/);
  expect((await stack.request('GET', '/api/webhooks/deliveries/dlv_nope')).status).toBe(404);
});

test('stats: counts per status, success rate, latency, attempts and a time series', async () => {
  const res = await stack.request<{
    counts: Record<string, number>;
    total: number;
    successRate: number;
    latencyMs: { p50: number; p95: number };
    attempts: { attempts: number; count: number }[];
    series: { interval: string; points: { delivered: number; failed: number; skipped: number }[] };
  }>('GET', `/api/webhooks/stats?flowId=${flowId}`);
  expect(res.body.counts).toMatchObject({ delivered: 1, failed: 1, skipped: 1, retrying: 0 });
  expect(res.body.successRate).toBeCloseTo(1 / 3);
  expect(res.body.latencyMs.p50).toBeGreaterThan(0);
  expect(res.body.attempts).toEqual([
    { attempts: 1, count: 2 },
    { attempts: 2, count: 1 },
  ]);
  expect(res.body.series.interval).toBe('day');
  const sum = res.body.series.points.reduce((n, p) => n + p.delivered + p.failed + p.skipped, 0);
  expect(sum).toBe(3);
  const one = await stack.request<{ counts: Record<string, number> }>(
    'GET',
    `/api/webhooks/stats?flowId=${flowId}&stepId=crm`,
  );
  expect(one.body.counts).toMatchObject({ skipped: 1, delivered: 0, failed: 0 });
});

test('a resend from another site is refused (the browser sends its Origin)', async () => {
  const res = await fetch(`${stack.apiUrl}/api/webhooks/deliveries/resend`, {
    method: 'POST',
    headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
    body: 'x=1',
  });
  expect(res.status).toBe(403);
  expect(((await res.json()) as ErrorResponse).error.code).toBe('cross_origin');
});

test('bad queries get 422 naming the parameter', async () => {
  const bad = await stack.request<ErrorResponse>(
    'GET',
    '/api/webhooks/deliveries?status=lost&limit=1000&cursor=zzz',
  );
  expect(bad.status).toBe(422);
  expect(bad.body.error.details.map((d) => d.path).sort()).toEqual(['cursor', 'limit', 'status']);
  const range = await stack.request<ErrorResponse>(
    'GET',
    '/api/webhooks/stats?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z',
  );
  expect(range.status).toBe(422);
});

test('the Webhook Analytics page: see both queues, fix the endpoint, resend, see it delivered', async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const owner = stack.owner!;
    // The page asks for a sign-in first; the owner has two-step authentication, so a code too.
    await signInThroughPage(page, stack.apiUrl, { ...owner, code: owner.recoveryCodes.shift()! });
    // The table lists the flow's steps, failures first; each step's queues are one click away.
    const tableRows = page.locator('[data-testid="steps-table"] tbody tr');
    await tableRows.first().waitFor();
    const order = await tableRows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-row')));
    expect(order.slice(-1)).toEqual([`${flowId}/ok`]);
    expect(order.slice(0, 2).sort()).toEqual([`${flowId}/crm`, `${flowId}/loyalty`]);
    await page.locator(`tr[data-row="${flowId}/crm"] a[data-testid="step-link"]`).click();
    await page.waitForURL((u) => u.pathname === `/webhooks/steps/${flowId}/crm`);
    const skippedRow = page.locator(
      `section[data-step="${flowId}/crm"] [data-queue="skipped"] li[data-delivery="${skippedId}"]`,
    );
    expect(await skippedRow.locator('.reason').innerText()).toMatch(
      /HTTP 404 Not Found: the endpoint rejected the request/,
    );
    expect(await page.locator('[data-testid="edit-in-builder"]').getAttribute('href')).toBe(
      `/flows/${flowId}#step-crm`,
    );
    await page.goto(`${stack.apiUrl}/webhooks`);
    await page.locator(`tr[data-row="${flowId}/loyalty"] a[data-testid="step-link"]`).click();
    await page.waitForURL((u) => u.pathname === `/webhooks/steps/${flowId}/loyalty`);
    const panel = page.locator(`section[data-step="${flowId}/loyalty"]`);
    const failedRow = panel.locator(`[data-queue="failed"] li[data-delivery="${failedId}"]`);
    await failedRow.waitFor();
    expect(await failedRow.locator('.reason').innerText()).toBe('HTTP 503 Service Unavailable');
    await page.screenshot({ path: path.join(ARTIFACTS, 'webhooks-page-before.png'), fullPage: true });

    receiver.script('/loyalty', { status: 200 }); // the team fixes its endpoint
    await failedRow.locator(`button[data-resend="${failedId}"]`).click();
    const note = page.locator(`[data-testid="note-${failedId}"]`);
    await page.waitForFunction(
      (id) => document.getElementById(`note-${id}`)?.dataset.status === 'delivered',
      failedId,
      {
        timeout: 30_000,
      },
    );
    expect(await note.innerText()).toMatch(/Resend delivered/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'webhooks-page.png'), fullPage: true });

    // After a reload the original stays in the failed queue, marked as resent and linked.
    await page.reload();
    await failedRow.waitFor();
    expect(await failedRow.innerText()).toMatch(/resent → dlv_/);

    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    // Readable at a phone width, the table and a step's page: nothing wider than the screen.
    for (const [url, shot] of [
      ['/webhooks', 'webhooks-page-phone.png'],
      [`/webhooks/steps/${flowId}/loyalty`, 'webhooks-step-phone.png'],
    ] as const) {
      await phone.goto(`${stack.apiUrl}${url}`);
      await phone.screenshot({ path: path.join(ARTIFACTS, shot), fullPage: true });
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(1);
    }
  } finally {
    await browser.close();
  }
  expect(receiver.received('/loyalty')).toHaveLength(3);

  const original = await stack.request<Detail>('GET', `/api/webhooks/deliveries/${failedId}`);
  expect(original.body.delivery.status).toBe('failed');
  const resendId = original.body.delivery.resentTo!;
  const resend = await stack.request<Detail>('GET', `/api/webhooks/deliveries/${resendId}`);
  expect(resend.body.delivery).toMatchObject({
    status: 'delivered',
    resendOf: failedId,
    manual: true,
    attempts: 1,
  });
  expect(resend.body.attempts).toEqual([
    expect.objectContaining({ attempt: 1, class: 'delivered', manual: true }),
  ]);
});

test('bulk resend uses the list filters, skips what was resent, and never runs a resend twice', async () => {
  receiver.script('/crm', { status: 200 });
  const first = await stack.request<{ resent: number }>('POST', '/api/webhooks/deliveries/resend', {
    flowId,
    status: 'skipped',
  });
  expect(first.status).toBe(202);
  expect(first.body.resent).toBe(1);
  const again = await stack.request<{ resent: number }>('POST', '/api/webhooks/deliveries/resend', {
    flowId,
    status: 'skipped',
  });
  expect(again.body.resent).toBe(0);
  const d = await poll(
    () => stack.request<Detail>('GET', `/api/webhooks/deliveries/${skippedId}`),
    (r) => r.body.delivery.resentTo !== null,
  );
  await poll(
    () => stack.request<Detail>('GET', `/api/webhooks/deliveries/${d.body.delivery.resentTo!}`),
    (r) => r.body.delivery.status === 'delivered',
  );
  // One original, one resend: the endpoint saw the first skip and exactly one resend.
  expect(receiver.received('/crm')).toHaveLength(2);

  // A resend of something still retrying is refused.
  receiver.script('/slow', { status: 503 });
  const m = uniqueMetric('Slow');
  await createLiveFlow(stack, m, [
    {
      id: 'slow',
      type: 'webhook',
      url: receiver.url('/slow'),
      body: '{}',
      retry: { maxAttempts: 3, initialIntervalMs: 5000 },
    },
  ]);
  const runId = await startOneRun(stack, m);
  const retrying = await poll(
    () => stack.request<{ deliveries: Summary[] }>('GET', '/api/webhooks/deliveries?status=retrying'),
    (r) => r.body.deliveries.some((x) => x.runId === runId),
    15_000,
  );
  const id = retrying.body.deliveries.find((x) => x.runId === runId)!.id;
  const refused = await stack.request<ErrorResponse>('POST', `/api/webhooks/deliveries/${id}/resend`);
  expect(refused.status).toBe(409);
  expect(refused.body.error.code).toBe('still_delivering');
});

test('with 50 flows the table lists every webhook step, sorts, filters, puts failures first, and opens a step', async () => {
  const prefix = `Scale ${process.pid}`;
  receiver.script('/scale-bad', { status: 503 });
  receiver.script('/scale-gone', { status: 410 });
  // Three of the fifty are live and get one delivery each: delivered, failed, skipped.
  const live = new Map<number, string>([
    [3, '/scale-ok'],
    [17, '/scale-bad'],
    [42, '/scale-gone'],
  ]);
  const ids: string[] = [];
  const metrics: string[] = [];
  for (let i = 0; i < 50; i++) {
    const n = String(i).padStart(2, '0');
    const m = uniqueMetric('Scale');
    const res = await stack.request<PublicFlow>('POST', '/api/flows', {
      name: `${prefix} ${n}`,
      trigger: { type: 'metric', metric: m },
      status: live.has(i) ? 'live' : 'draft',
      steps: [
        {
          id: 'hook',
          type: 'webhook',
          name: `Hook ${n}`,
          url: receiver.url(live.get(i) ?? `/scale-${n}`),
          body: '{"email": "{{ person.email }}"}',
          ...fast,
        },
      ],
    });
    expect(res.status).toBe(201);
    ids.push(res.body.id);
    if (live.has(i)) metrics.push(m);
  }
  for (const m of metrics) await waitForRun(stack, await startOneRun(stack, m));
  const [ok, bad, gone] = [ids[3]!, ids[17]!, ids[42]!];

  const browser = await launchBrowser();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const owner = stack.owner!;
    await signInThroughPage(page, stack.apiUrl, { ...owner, code: owner.recoveryCodes.shift()! });
    const rowIds = () =>
      page
        .locator('[data-testid="steps-table"] tbody tr[data-row]')
        .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-row')!.split('/')[0]!));
    await page.screenshot({ path: path.join(ARTIFACTS, 'analytics-table.png'), fullPage: true });

    // Filtered to the fifty by text: fifty rows, the two with failures first.
    await page.fill('[data-testid="filter-text"]', prefix);
    await page.click('form.filters button[type=submit]');
    await page.waitForURL((u) => u.searchParams.get('q') === prefix);
    let rows = await rowIds();
    expect(rows).toHaveLength(50);
    expect(rows.slice(0, 2).sort()).toEqual([bad, gone].sort());
    expect(await page.locator('[data-testid="steps-table"] caption').innerText()).toMatch(/failures first/);

    // Sorting by a column keeps the filter, says so with aria-sort, and flips on a second click.
    await page.click('th a[data-sort="delivered"]');
    await page.waitForURL((u) => u.searchParams.get('sort') === 'delivered');
    expect(new URL(page.url()).searchParams.get('q')).toBe(prefix);
    expect(await page.locator('th:has(a[data-sort="delivered"])').getAttribute('aria-sort')).toBe(
      'descending',
    );
    rows = await rowIds();
    expect(rows[0]).toBe(ok);
    await page.click('th a[data-sort="delivered"]');
    await page.waitForURL((u) => u.searchParams.get('dir') === 'asc');
    expect(await page.locator('th:has(a[data-sort="delivered"])').getAttribute('aria-sort')).toBe(
      'ascending',
    );
    rows = await rowIds();
    expect(rows).toHaveLength(50);
    expect(rows[49]).toBe(ok);
    await page.click('th a[data-sort="flow"]');
    await page.waitForURL((u) => u.searchParams.get('sort') === 'flow');
    expect(await rowIds()).toEqual(ids);

    // The status filter: only steps with failures; the flow filter: one flow's steps.
    await page.selectOption('[data-testid="filter-status"]', 'failures');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL((u) => u.searchParams.get('status') === 'failures');
    expect((await rowIds()).sort()).toEqual([bad, gone].sort());
    // The form sorts too (at phone width the headers are hidden).
    await page.selectOption('[data-testid="sort-by"]', 'flow');
    await page.selectOption('form.filters select[name=dir]', 'desc');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL((u) => u.searchParams.get('dir') === 'desc');
    expect(await rowIds()).toEqual([gone, bad]);
    await page.goto(`${stack.apiUrl}/webhooks?flow=${bad}`);
    expect(await rowIds()).toEqual([bad]);
    expect(await page.locator('tr[data-row] [data-col="failed"]').innerText()).toBe('1');

    // The step's page: its failed queue, and a resend that reaches the fixed endpoint.
    await page.click('a[data-testid="step-link"]');
    await page.waitForURL((u) => u.pathname === `/webhooks/steps/${bad}/hook`);
    const queued = page.locator(`section[data-step="${bad}/hook"] [data-queue="failed"] li[data-delivery]`);
    expect(await queued.count()).toBe(1);
    const deliveryId = (await queued.getAttribute('data-delivery'))!;
    receiver.script('/scale-bad', { status: 200 });
    await page.click(`button[data-resend="${deliveryId}"]`);
    await page.waitForFunction(
      (id) => document.getElementById(`note-${id}`)?.dataset.status === 'delivered',
      deliveryId,
      { timeout: 30_000 },
    );
  } finally {
    await browser.close();
  }
}, 180_000);
