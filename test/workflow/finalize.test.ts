/**
 * The workflows' side of how a delivery ends, on a real dev server with stand-in activities: when
 * the last attempt never recorded itself (it timed out, or its worker died), the workflow ends the
 * delivery's record through `finalizeDelivery`; when the activity recorded it, it does not. A run
 * whose profile is no longer eligible skips its webhook step without a delivery attempt.
 */
import crypto from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { FinalizeDeliveryInput } from '../../src/activities';
import type {
  CheckEligibilityResult,
  DeliverWebhookInput,
  DeliverWebhookResult,
  DestinationPausedDetails,
  FlowRunInput,
  ResendInput,
} from '../../src/shared/run-types';
import { DESTINATION_PAUSED } from '../../src/shared/run-types';
import { DevServer } from '../../src/temporal/dev-server';
import { EncryptionCodec, dataConverterOf } from '../../src/temporal/payload-codec';
import { freePort } from '../../src/temporal/ports';
import { flowRun, resendDelivery } from '../../src/workflows';

const retry = { maxAttempts: 2, initialIntervalMs: 50, backoffCoefficient: 1, maxIntervalMs: 50 };
const context = { person: { id: 'prf_1' }, event: { metric: 'm' } };

/** The bundler's progress lines are not the test's business. */
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

let server: DevServer;
let client: Client;
/** Client and worker encrypt payloads as hookflow's do (a key of the test's own). */
const dataConverter = dataConverterOf(new EncryptionCodec([{ id: 'test', key: crypto.randomBytes(32) }]));
let bundle: { code: string };

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  server = await DevServer.start({ port: await freePort() });
  client = new Client({ connection: await Connection.connect({ address: server.address }), dataConverter });
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quiet });
});

afterAll(async () => {
  await client?.connection.close();
  await server?.stop();
});

let n = 0;
/** Runs `fn` against a worker on its own task queue, with `deliverWebhook` standing in. */
async function withWorker<T>(
  deliverWebhook: (input: DeliverWebhookInput) => Promise<DeliverWebhookResult>,
  fn: (taskQueue: string) => Promise<T>,
  checkEligibility: () => Promise<CheckEligibilityResult> = () => Promise.resolve({ eligible: true }),
): Promise<{ result: T; finalized: FinalizeDeliveryInput[] }> {
  const taskQueue = `finalize-${process.pid}-${++n}`;
  const finalized: FinalizeDeliveryInput[] = [];
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({
    connection,
    dataConverter,
    taskQueue,
    workflowBundle: bundle,
    activities: {
      deliverWebhook,
      checkEligibility,
      finalizeDelivery: (input: FinalizeDeliveryInput) => {
        finalized.push(input);
        return Promise.resolve();
      },
    },
  });
  const result = await worker.runUntil(fn(taskQueue)).finally(() => connection.close());
  return { result, finalized };
}

const runInput = (runId: string): FlowRunInput => ({
  runId,
  flowId: 'flw_1',
  flowVersion: 1,
  profileId: 'prf_1',
  eventId: 'evt_1',
  context,
  plan: [{ id: 'w', type: 'webhook', retry, timeoutMs: 1000 }],
});

test('an attempt that never reported (no details) is ended by the workflow: failed, with Temporal’s reason', async () => {
  const runId = `run_unrecorded_${process.pid}`;
  const { result, finalized } = await withWorker(
    () => Promise.reject(new Error('worker lost the attempt')),
    (taskQueue) =>
      client.workflow.execute(flowRun, { workflowId: runId, taskQueue, args: [runInput(runId)] }),
  );
  expect(result.steps[0]).toMatchObject({ id: 'w', status: 'failed', reason: 'worker lost the attempt' });
  expect(finalized).toEqual([{ runId, stepId: 'w', status: 'failed', reason: 'worker lost the attempt' }]);
});

test('an attempt the activity recorded is not finalized again; a non-retryable one ends skipped', async () => {
  const runId = `run_recorded_${process.pid}`;
  const { result, finalized } = await withWorker(
    () =>
      Promise.reject(
        ApplicationFailure.create({
          type: 'WebhookRejected',
          message: 'HTTP 404 Not Found',
          nonRetryable: true,
          details: [{ deliveryId: 'dlv_1', attempt: 1, httpStatus: 404 }],
        }),
      ),
    (taskQueue) =>
      client.workflow.execute(flowRun, { workflowId: runId, taskQueue, args: [runInput(runId)] }),
  );
  expect(result.steps[0]).toMatchObject({
    status: 'skipped',
    reason: 'HTTP 404 Not Found',
    deliveryId: 'dlv_1',
    attempts: 1,
    lastHttpStatus: 404,
  });
  expect(finalized).toEqual([]);
});

test('a resend whose last attempt never reported ends its own delivery, not the original', async () => {
  const input: ResendInput = {
    delivery: {
      runId: 'run_1',
      flowId: 'flw_1',
      flowVersion: 1,
      stepId: 'w',
      profileId: 'prf_1',
      context,
      resend: { deliveryId: 'dlv_resend', originalId: 'dlv_original' },
    },
    retry,
    timeoutMs: 1000,
  };
  const { result, finalized } = await withWorker(
    () => Promise.reject(new Error('timed out')),
    (taskQueue) =>
      client.workflow.execute(resendDelivery, {
        workflowId: `resend_unrecorded_${process.pid}`,
        taskQueue,
        args: [input],
      }),
  );
  expect(result).toEqual({ deliveryId: 'dlv_resend', status: 'failed', attempts: 0, reason: 'timed out' });
  expect(finalized).toEqual([
    { runId: 'run_1', stepId: 'w', deliveryId: 'dlv_resend', status: 'failed', reason: 'timed out' },
  ]);
});

test('a profile no longer eligible: the webhook step ends skipped with the reason, and no delivery is attempted', async () => {
  const runId = `run_ineligible_${process.pid}`;
  let attempted = 0;
  const { result, finalized } = await withWorker(
    () => {
      attempted++;
      return Promise.reject(new Error('must not be called'));
    },
    (taskQueue) =>
      client.workflow.execute(flowRun, { workflowId: runId, taskQueue, args: [runInput(runId)] }),
    () => Promise.resolve({ eligible: false, reason: 'fails flow filters', deliveryId: 'dlv_skip' }),
  );
  expect(result.steps[0]).toMatchObject({
    id: 'w',
    status: 'skipped',
    reason: 'fails flow filters',
    deliveryId: 'dlv_skip',
    attempts: 0,
  });
  expect(attempted).toBe(0);
  expect(finalized).toEqual([]);
});

test('the eligibility check, a local activity, is retried after a transient error, then the webhook runs', async () => {
  const runId = `run_eligibility_retry_${process.pid}`;
  let checks = 0;
  let delivered = 0;
  const { result } = await withWorker(
    () => {
      delivered++;
      return Promise.resolve({ deliveryId: 'dlv_ok', attempts: 1, httpStatus: 200, latencyMs: 1 });
    },
    (taskQueue) =>
      client.workflow.execute(flowRun, { workflowId: runId, taskQueue, args: [runInput(runId)] }),
    () =>
      ++checks === 1 ? Promise.reject(new Error('database is locked')) : Promise.resolve({ eligible: true }),
  );
  expect(checks).toBe(2);
  expect(delivered).toBe(1);
  expect(result.steps[0]).toMatchObject({ id: 'w', status: 'delivered', deliveryId: 'dlv_ok', attempts: 1 });
  // Run by the worker that held the workflow task: a marker in history, no activity task of its own.
  const history = await client.workflow.getHandle(runId).fetchHistory();
  const scheduled = (history.events ?? []).map(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name,
  );
  expect(scheduled.filter(Boolean)).toEqual(['deliverWebhook']);
  expect(
    (history.events ?? []).some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity'),
  ).toBe(true);
});

test('a paused destination makes the run wait on a timer and call again, without using up attempts', async () => {
  const runId = `run_paused_${process.pid}`;
  const calls: [number | undefined, number, string][] = [];
  const input: FlowRunInput = {
    ...runInput(runId),
    plan: [{ id: 'w', type: 'webhook', retry: { ...retry, maxAttempts: 4 }, timeoutMs: 1000 }],
  };
  const { result, finalized } = await withWorker(
    (call) => {
      const info = Context.current().info;
      calls.push([call.attemptOffset, info.attempt, info.activityId]);
      if (call.attemptOffset === undefined && info.attempt === 1) {
        return Promise.reject(ApplicationFailure.retryable('connection refused', 'WebhookRetryable'));
      }
      if (call.attemptOffset === undefined) {
        const pause: DestinationPausedDetails = {
          deliveryId: 'dlv_p',
          attemptsMade: info.attempt - 1,
          untilMs: Date.now() + 300,
          reason: 'destination paused: circuit open (https://h:443)',
        };
        return Promise.reject(
          ApplicationFailure.create({
            type: DESTINATION_PAUSED,
            message: pause.reason,
            nonRetryable: true,
            details: [pause],
          }),
        );
      }
      const attempts = call.attemptOffset + info.attempt;
      return Promise.resolve({ deliveryId: 'dlv_p', attempts, httpStatus: 200, latencyMs: 1 });
    },
    (taskQueue) => client.workflow.execute(flowRun, { workflowId: runId, taskQueue, args: [input] }),
  );
  // The second call goes on from attempt 2 (with the 3 attempts the budget has left: below).
  expect(calls).toEqual([
    [undefined, 1, 'w'],
    [undefined, 2, 'w'],
    [1, 1, 'w~1'],
  ]);
  expect(result.steps[0]).toMatchObject({ id: 'w', status: 'delivered', attempts: 2 });
  expect(finalized).toEqual([]);
  const history = await client.workflow.getHandle(runId).fetchHistory();
  expect((history.events ?? []).filter((e) => e.timerStartedEventAttributes).length).toBe(1);
  const budgets = (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'deliverWebhook')
    .map((a) => a!.retryPolicy?.maximumAttempts);
  expect(budgets).toEqual([4, 3]);
});
