import type { temporal } from '@temporalio/proto';
import { Client, Connection } from '@temporalio/client';
import { dataConverterOf, ENCRYPTED_ENCODING } from '../../src/temporal/payload-codec';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import { createLiveFlow, startOneRun, step, uniqueMetric, waitForRun } from '../support/flows';

/**
 * Issue 18's fast path on the real stack: a webhook's first attempt runs as a local activity inside
 * the run's workflow task; a retryable failure continues on the regular activity. Asserted on what
 * an operator reads: the Temporal history, the delivery's attempts, the requests that arrived.
 */

let stack: Stack;
let receiver: Receiver;
let client: Client;

const SECRET = 'sk_fast_path_9f8e7d6c5b4a';

const hook = (id: string, url: string) => ({
  id,
  type: 'webhook',
  url,
  headers: { 'X-Api-Key': SECRET },
  body: '{"email": "{{ person.email }}", "value": {{ event.value }}}',
});

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'fast-path', caCert: pki.caCert });
  client = new Client({
    connection: await Connection.connect({ address: stack.server.address }),
    dataConverter: dataConverterOf(stack.payloadCodec()),
  });
}, 120_000);

afterAll(async () => {
  await client?.connection.close();
  await stack?.stop();
  await receiver?.close();
});

interface Detail {
  delivery: { id: string; status: string; attempts: number; possibleDuplicate: boolean };
  attempts: { attempt: number; class: string; httpStatus: number | null }[];
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The run's history as Temporal keeps it, event type names without their prefix. */
async function history(runId: string): Promise<{ types: string[]; events: HistoryEvent[] }> {
  const h = await client.workflow.getHandle(runId).fetchHistory();
  const events = h.events ?? [];
  const { EventType } = (await import('@temporalio/proto')).temporal.api.enums.v1;
  const types = events.map((e) => (EventType[e.eventType ?? 0] ?? '').replace(/^EVENT_TYPE_/, ''));
  return { types, events };
}

/** Every byte string in a history (payload data and metadata), to search for what must not be there. */
function bytesIn(node: unknown, found: Buffer[] = []): Buffer[] {
  if (node instanceof Uint8Array) found.push(Buffer.from(node));
  else if (Array.isArray(node)) for (const x of node) bytesIn(x, found);
  else if (node && typeof node === 'object') for (const v of Object.values(node)) bytesIn(v, found);
  return found;
}

async function attempts(deliveryId: string): Promise<Detail> {
  const res = await stack.request<Detail>('GET', `/api/webhooks/deliveries/${deliveryId}`);
  expect(res.status).toBe(200);
  return res.body;
}

test('a first attempt that is delivered completes the run in one workflow task: six history events, no activity task', async () => {
  const metric = uniqueMetric('Fast');
  await createLiveFlow(stack, metric, [hook('w', receiver.url('/fast'))]);
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);
  expect(step(run, 'w')).toMatchObject({ status: 'delivered', attempts: 1, lastHttpStatus: 200 });
  expect(JSON.parse(receiver.received('/fast')[0]!.body)).toEqual({ email: 'ada@example.com', value: 120.5 });

  await client.workflow.getHandle(runId).result();
  const { types, events } = await history(runId);
  expect(types).toEqual([
    'WORKFLOW_EXECUTION_STARTED',
    'WORKFLOW_TASK_SCHEDULED',
    'WORKFLOW_TASK_STARTED',
    'WORKFLOW_TASK_COMPLETED',
    'MARKER_RECORDED',
    'WORKFLOW_EXECUTION_COMPLETED',
  ]);
  expect(events[0]!.workflowExecutionStartedEventAttributes?.workflowType?.name).toBe('flowRunV2');
  // The local activity's result is kept encrypted by the payload codec; its input (with the step's
  // secret header) is not kept at all.
  const result = events[4]!.markerRecordedEventAttributes?.details?.result?.payloads?.[0];
  expect(Buffer.from(result?.metadata?.encoding ?? []).toString()).toBe(ENCRYPTED_ENCODING);
  expect(Buffer.concat(bytesIn(events)).includes(SECRET)).toBe(false);
  expect(JSON.stringify(events)).not.toContain(SECRET);

  const detail = await attempts(step(run, 'w').deliveryId!);
  expect(detail.delivery).toMatchObject({ status: 'delivered', attempts: 1, possibleDuplicate: false });
  expect(detail.attempts.map((a) => [a.attempt, a.class, a.httpStatus])).toEqual([[1, 'delivered', 200]]);
});

test('503 with Retry-After, then 200: delivered through the regular activity, attempts 1 and 2 recorded', async () => {
  const metric = uniqueMetric('Fallback');
  receiver.script('/fallback', { status: 503, headers: { 'Retry-After': '1' } }, { status: 200 });
  await createLiveFlow(stack, metric, [hook('w', receiver.url('/fallback'))]);
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);
  const deliveryId = step(run, 'w').deliveryId!;
  expect(step(run, 'w')).toMatchObject({ status: 'delivered', attempts: 2, lastHttpStatus: 200 });

  const detail = await attempts(deliveryId);
  expect(detail.delivery).toMatchObject({ status: 'delivered', attempts: 2, possibleDuplicate: false });
  expect(detail.attempts.map((a) => [a.attempt, a.class, a.httpStatus])).toEqual([
    [1, 'retryable', 503],
    [2, 'delivered', 200],
  ]);
  // One Idempotency-Key on both, and the endpoint's Retry-After kept between them.
  const got = receiver.received('/fallback');
  expect(got.map((r) => r.headers['idempotency-key'])).toEqual([deliveryId, deliveryId]);
  expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(950);

  await client.workflow.getHandle(runId).result();
  const { types } = await history(runId);
  // The first attempt in the marker, the wait on a timer, the second attempt as an activity.
  expect(types.filter((t) => t === 'MARKER_RECORDED')).toHaveLength(1);
  expect(types.filter((t) => t === 'TIMER_STARTED')).toHaveLength(1);
  expect(types.filter((t) => t === 'ACTIVITY_TASK_SCHEDULED')).toHaveLength(1);
});

test('two attempts allowed, 503 on both: the last attempt, made by the fallback, is recorded failed', async () => {
  const metric = uniqueMetric('FastFailed');
  receiver.script('/fast-down', { status: 503 });
  await createLiveFlow(stack, metric, [
    {
      ...hook('w', receiver.url('/fast-down')),
      retry: { maxAttempts: 2, initialIntervalMs: 100, maxIntervalMs: 100 },
    },
  ]);
  const run = await waitForRun(stack, await startOneRun(stack, metric));
  expect(step(run, 'w')).toMatchObject({ status: 'failed', attempts: 2, lastHttpStatus: 503 });
  // Temporal leaves the retry policy out of an activity allowed one attempt: the record must still
  // know it was the last (it once said retrying, with a next attempt that never came).
  const detail = await attempts(step(run, 'w').deliveryId!);
  expect(detail.delivery).toMatchObject({ status: 'failed', attempts: 2 });
  expect(detail.attempts.map((a) => [a.attempt, a.class])).toEqual([
    [1, 'retryable'],
    [2, 'retryable'],
  ]);
});

test('a 404 on the first attempt is skipped in the workflow task: no activity task', async () => {
  const metric = uniqueMetric('FastSkip');
  receiver.script('/fast-gone', { status: 404 });
  await createLiveFlow(stack, metric, [hook('w', receiver.url('/fast-gone'))]);
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);
  expect(step(run, 'w')).toMatchObject({ status: 'skipped', attempts: 1, lastHttpStatus: 404 });
  await client.workflow.getHandle(runId).result();
  const { types } = await history(runId);
  expect(types).not.toContain('ACTIVITY_TASK_SCHEDULED');
  expect(types.filter((t) => t === 'WORKFLOW_TASK_COMPLETED')).toHaveLength(1);
  const detail = await attempts(step(run, 'w').deliveryId!);
  expect(detail.delivery.status).toBe('skipped');
});

test('a worker killed during the fast-path request: the run is taken over and redelivers with the same Idempotency-Key', async () => {
  const metric = uniqueMetric('FastKill');
  // The first request is held open while its worker dies; the next one is answered.
  receiver.script('/fast-kill', { action: 'hang' }, { status: 200 });
  await createLiveFlow(stack, metric, [hook('w', receiver.url('/fast-kill'))]);
  const runId = await startOneRun(stack, metric);
  await poll(
    () => Promise.resolve(receiver.received('/fast-kill').length),
    (n) => n >= 1,
    30_000,
    20,
  );
  await stack.killWorker();
  await stack.startWorker();
  // The dead worker's workflow task times out (10 s); the new worker runs the local activity again.
  const run = await waitForRun(stack, runId, 90_000);
  const deliveryId = step(run, 'w').deliveryId!;
  expect(step(run, 'w').status).toBe('delivered');

  const got = receiver.received('/fast-kill');
  expect(got).toHaveLength(2);
  expect(got.map((r) => r.headers['idempotency-key'])).toEqual([deliveryId, deliveryId]);
  // The request the dead worker sent stays visible: outcome unknown, the delivery flagged.
  const detail = await attempts(deliveryId);
  expect(detail.delivery).toMatchObject({ status: 'delivered', attempts: 2, possibleDuplicate: true });
  expect(detail.attempts.map((a) => [a.attempt, a.class])).toEqual([
    [1, 'unknown'],
    [2, 'delivered'],
  ]);

  await client.workflow.getHandle(runId).result();
  const { types } = await history(runId);
  expect(types).toContain('WORKFLOW_TASK_TIMED_OUT');
  expect(types).not.toContain('ACTIVITY_TASK_SCHEDULED');
}, 120_000);
