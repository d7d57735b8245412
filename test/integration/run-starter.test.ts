import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import {
  createLiveFlow,
  emailValueHook,
  getRun,
  postEvent,
  uniqueMetric,
  waitForRun,
} from '../support/flows';

/**
 * The API answers once an event and its runs are recorded, whatever Temporal does: runs accepted
 * while Temporal is down are started when it is back, and runs of an API killed after its answer
 * are started by the next API process, each once.
 */

let stack: Stack;
let receiver: Receiver;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({
    name: 'run-starter',
    caCert: pki.caCert,
    // A killed API's claims lapse after 3 s (30 s by default), so the next process takes over soon.
    env: { HOOKFLOW_RUN_STARTER_LEASE_SECONDS: '3', HOOKFLOW_RUN_STARTER_POLL_MS: '500' },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

const bodies = (path: string) =>
  receiver
    .received(path)
    .map((r) => JSON.parse(r.body) as { email: string; value: number })
    .sort((a, b) => a.value - b.value);

test('an event accepted while Temporal is down answers 202, its run is queued, and it is delivered once Temporal is back', async () => {
  const metric = uniqueMetric('While down');
  const flow = await createLiveFlow(stack, metric, [emailValueHook('h', receiver.url('/while-down'))]);
  await stack.stopTemporal();

  const posted = Date.now();
  const res = await postEvent(stack, metric, { properties: { value: 1 } });
  // Answered from the database alone: no wait for Temporal's timeouts.
  expect(Date.now() - posted).toBeLessThan(5000);
  expect(res.status).toBe(202);
  expect(res.body.runs).toEqual([{ flowId: flow.id, runId: expect.any(String) as string }]);
  const runId = res.body.runs[0]!.runId;
  const queued = await getRun(stack, runId);
  expect(queued).toMatchObject({ runId, status: 'queued', startedAt: null });
  expect(queued.steps).toEqual([expect.objectContaining({ id: 'h', status: 'pending' })]);

  await stack.startTemporal();
  await poll(
    () => Promise.resolve(receiver.received('/while-down').length),
    (n) => n >= 1,
    90_000,
    250,
  );
  const run = await waitForRun(stack, runId);
  expect(run.startedAt).not.toBeNull();
  expect(bodies('/while-down')).toEqual([{ email: 'ada@example.com', value: 1 }]);
}, 180_000);

test('kill -9 of the API after its 202s loses no run: the next API process starts each, once', async () => {
  const metric = uniqueMetric('Killed');
  await createLiveFlow(stack, metric, [emailValueHook('h', receiver.url('/after-kill'))]);
  await stack.stopTemporal();
  const runIds: string[] = [];
  for (const value of [1, 2, 3, 4, 5]) {
    const res = await postEvent(stack, metric, { properties: { value } });
    expect(res.status).toBe(202);
    runIds.push(res.body.runs[0]!.runId);
  }
  for (const id of runIds) expect((await getRun(stack, id)).status).toBe('queued');

  await stack.killApi();
  await stack.startTemporal();
  await stack.startApi();

  await poll(
    () => Promise.resolve(receiver.received('/after-kill').length),
    (n) => n >= 5,
    90_000,
    250,
  );
  for (const id of runIds) await waitForRun(stack, id);
  // Exactly once: no second delivery of any run arrives after all five did.
  await new Promise((r) => setTimeout(r, 3000));
  expect(bodies('/after-kill')).toEqual(
    [1, 2, 3, 4, 5].map((value) => ({ email: 'ada@example.com', value })),
  );
}, 240_000);

test('a stopped API (SIGTERM) releases its claims on runs Temporal has not accepted; the next API starts them', async () => {
  const metric = uniqueMetric('Stopped');
  await createLiveFlow(stack, metric, [emailValueHook('h', receiver.url('/after-stop'))]);
  await stack.stopTemporal();
  const runIds: string[] = [];
  for (const value of [1, 2]) {
    const res = await postEvent(stack, metric, { properties: { value } });
    expect(res.status).toBe(202);
    runIds.push(res.body.runs[0]!.runId);
  }
  expect(await stack.signalApi('SIGTERM')).toBe(0);
  const db = await stack.openDatabase();
  try {
    const rows = await db
      .selectFrom('runs')
      .select(['id', 'started_at', 'claimed_by', 'claim_expires_at'])
      .where('id', 'in', runIds)
      .execute();
    // Queued and held by nobody: any starter takes them at once, without waiting for a lease.
    expect([...rows].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [...runIds].sort().map((id) => ({
        id,
        started_at: null,
        claimed_by: null,
        claim_expires_at: '1970-01-01T00:00:00.000Z',
      })),
    );
  } finally {
    await db.destroy();
  }
  await stack.startTemporal();
  await stack.startApi();
  await poll(
    () => Promise.resolve(receiver.received('/after-stop').length),
    (n) => n >= 2,
    90_000,
    250,
  );
  for (const id of runIds) await waitForRun(stack, id);
  expect(bodies('/after-stop')).toEqual([1, 2].map((value) => ({ email: 'ada@example.com', value })));
}, 240_000);
