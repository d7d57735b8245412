import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import {
  createLiveFlow,
  emailValueHook,
  startOneRun,
  step,
  uniqueMetric,
  waitForRun,
} from '../support/flows';

/** Operating hookflow: liveness and readiness, Prometheus metrics, graceful shutdown of the worker. */

let stack: Stack;
let receiver: Receiver;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  // Attempts may take longer than the suites' usual 1.5 s: the slow endpoint answers after 2 s.
  stack = await Stack.start({
    name: 'operations',
    caCert: pki.caCert,
    env: { HOOKFLOW_WEBHOOK_TIMEOUT_MS: '5000' },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

async function scrape(url: string | undefined): Promise<string> {
  if (!url) throw new Error('no metrics URL');
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

/** The value of one sample of the Prometheus text format (0 when the series is absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return 0;
}

test('/health is liveness and answers at once; /ready names each dependency it checked', async () => {
  expect(await stack.request('GET', '/health')).toEqual({ status: 200, body: { status: 'ok' } });
  expect(await stack.request('GET', '/ready')).toEqual({
    status: 200,
    body: { status: 'ok', database: 'ok', migrations: 'ok', temporal: 'ok', failed: [] },
  });
});

test('after a real delivery, the API and the worker count it on /metrics with its labels', async () => {
  const apiBefore = await scrape(`${stack.apiUrl}/metrics`);
  const workerBefore = await scrape(stack.workerMetricsUrl);
  const host = `127.0.0.1:${receiver.port}`;
  const metric = uniqueMetric('Metered');
  const flow = await createLiveFlow(stack, metric, [emailValueHook('notify', receiver.url('/metered'))]);
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);
  expect(step(run, 'notify')).toMatchObject({ status: 'delivered', attempts: 1 });

  const api = await scrape(`${stack.apiUrl}/metrics`);
  const delta = (name: string, labels?: Record<string, string>) =>
    sample(api, name, labels) - sample(apiBefore, name, labels);
  expect(delta('hookflow_events_ingested_total')).toBe(1);
  expect(delta('hookflow_runs_started_total')).toBe(1);
  expect(delta('hookflow_http_requests_total', { method: 'POST', route: '/api/flows', status: '201' })).toBe(
    1,
  );
  expect(delta('hookflow_http_requests_total', { method: 'POST', route: '/api/events', status: '202' })).toBe(
    1,
  );
  // The route pattern, never the run id itself.
  expect(
    delta('hookflow_http_requests_total', { method: 'GET', route: '/api/runs/:runId', status: '200' }),
  ).toBeGreaterThanOrEqual(1);
  expect(api).not.toContain(runId);
  expect(
    delta('hookflow_http_request_duration_seconds_count', { method: 'POST', route: '/api/events' }),
  ).toBe(1);
  expect(flow.id).toBeDefined();

  const worker = await scrape(stack.workerMetricsUrl);
  const wdelta = (name: string, labels?: Record<string, string>) =>
    sample(worker, name, labels) - sample(workerBefore, name, labels);
  expect(wdelta('hookflow_webhook_attempts_total', { outcome: 'delivered' })).toBe(1);
  expect(wdelta('hookflow_deliveries_total', { outcome: 'delivered' })).toBe(1);
  expect(wdelta('hookflow_webhook_attempt_duration_seconds_count', { host })).toBe(1);
  expect(wdelta('hookflow_webhook_attempt_duration_seconds_bucket', { host, le: '+Inf' })).toBe(1);
  expect(wdelta('hookflow_webhook_render_duration_seconds_count')).toBe(1);
  expect(wdelta('hookflow_attempts_recorded_total', { to: 'database' })).toBe(1);
  expect(sample(worker, 'hookflow_attempts_recorded_total', { to: 'spool' })).toBe(0);
  expect(worker).toMatch(/^hookflow_attempt_spool_records 0$/m);

  // The Temporal SDK's own worker metrics, on their own port, for this worker's task queue.
  const temporal = await scrape(stack.temporalMetricsUrl);
  expect(temporal).toMatch(new RegExp(`^hookflow_temporal_\\w+\\{[^}]*task_queue="${stack.taskQueue}"`, 'm'));
});

test('SIGTERM: a delivery in flight to a slow endpoint completes as delivered and the worker exits 0', async () => {
  receiver.script('/slow', { status: 200, delayMs: 2000 });
  const metric = uniqueMetric('Slow');
  const flow = await createLiveFlow(stack, metric, [emailValueHook('slow', receiver.url('/slow'))]);
  const runId = await startOneRun(stack, metric);
  await poll(
    () => Promise.resolve(receiver.received('/slow').length),
    (n) => n === 1,
  );
  const signalled = Date.now();
  expect(await stack.signalWorker('SIGTERM')).toBe(0);
  // It waited for the endpoint's answer instead of cutting the attempt.
  expect(Date.now() - signalled).toBeGreaterThan(1000);
  expect(stack.logs).toContain('worker stopping: no new tasks, in-flight activities may finish');

  const listed = await stack.request<{
    deliveries: { status: string; attempts: number; lastHttpStatus: number }[];
  }>('GET', `/api/webhooks/deliveries?flowId=${flow.id}`);
  expect(listed.body.deliveries).toEqual([
    expect.objectContaining({ status: 'delivered', attempts: 1, lastHttpStatus: 200 }),
  ]);

  // The next worker finishes the run from where the stopped one left it, without sending again.
  await stack.startWorker();
  const run = await waitForRun(stack, runId);
  expect(step(run, 'slow')).toMatchObject({ status: 'delivered', attempts: 1, lastHttpStatus: 200 });
  expect(receiver.received('/slow')).toHaveLength(1);
}, 90_000);

test('a second signal ends a stopping worker at once', async () => {
  receiver.script('/stuck', { action: 'hang' });
  const metric = uniqueMetric('Stuck');
  await createLiveFlow(stack, metric, [emailValueHook('stuck', receiver.url('/stuck'))]);
  await startOneRun(stack, metric);
  await poll(
    () => Promise.resolve(receiver.received('/stuck').length),
    (n) => n >= 1,
  );
  const signalled = Date.now();
  // 143 = 128 + SIGTERM: ended by the operator, not a clean stop.
  expect(await stack.signalWorker('SIGTERM', 100)).toBe(143);
  expect(Date.now() - signalled).toBeLessThan(2000);
  expect(stack.logs).toContain('second signal: worker exiting at once');
  await stack.startWorker();
}, 60_000);

// Last: the API does not come back.
test('SIGTERM: the API finishes the request in flight, refuses new connections and exits 0', async () => {
  receiver.script('/slow-test', { status: 200, delayMs: 2000 });
  const metric = uniqueMetric('Slow test send');
  const flow = await createLiveFlow(stack, metric, [emailValueHook('hook', receiver.url('/slow-test'))]);
  const inFlight = stack.request<{ sent: boolean; class: string; httpStatus?: number }>(
    'POST',
    `/api/flows/${flow.id}/steps/hook/test`,
    {},
  );
  await poll(
    () => Promise.resolve(receiver.received('/slow-test').length),
    (n) => n === 1,
  );
  const exited = stack.signalApi('SIGTERM');
  // Give the API a moment to stop listening, then a new connection is refused.
  await poll(
    () =>
      fetch(`${stack.apiUrl}/health`).then(
        () => 'accepted',
        () => 'refused',
      ),
    (v) => v === 'refused',
    1500,
    50,
  );
  const answered = await inFlight;
  expect(answered.status).toBe(200);
  expect(answered.body).toMatchObject({ sent: true, class: 'delivered', httpStatus: 200 });
  expect(await exited).toBe(0);
  expect(stack.logs).toContain('"msg":"API stopped"');
}, 60_000);
