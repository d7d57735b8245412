import { Client, Connection } from '@temporalio/client';
import { dataConverterOf } from '../../src/temporal/payload-codec';
import { TestCluster } from '../harness/cluster';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import { createLiveFlow, getRun, startOneRun, step, uniqueMetric, waitForRun } from '../support/flows';

/**
 * The scale-out path on the real thing: a Temporal server on PostgreSQL (8 history shards, a
 * namespace of our own), the API, and two worker processes polling the same task queue. The
 * binaries come from `make cluster-tools` (run by `make test`); without them this suite fails.
 */

interface Summary {
  id: string;
  runId: string;
  status: string;
  attempts: number;
  resentTo: string | null;
  resendOf: string | null;
}

let cluster: TestCluster;
let stack: Stack;
let receiver: Receiver;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  cluster = await TestCluster.start({ name: 'cluster' });
  stack = await Stack.start({
    name: 'cluster',
    caCert: pki.caCert,
    temporal: { address: cluster.address, namespace: cluster.namespace },
    workers: 2,
    // hookflow's own database on the cluster's PostgreSQL (used once hookflow reads it).
    env: { HOOKFLOW_DATABASE_URL: cluster.databaseUrl('hookflow') },
  });
  connection = await Connection.connect({ address: cluster.address });
  client = new Client({
    connection,
    namespace: cluster.namespace,
    dataConverter: dataConverterOf(stack.payloadCodec()),
  });
}, 240_000);

afterAll(async () => {
  await connection?.close();
  await stack?.stop();
  await cluster?.stop();
  await receiver?.close();
});

const hook = (id: string, path: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'webhook',
  url: receiver.url(path),
  headers: { 'X-Api-Key': 'sk_cluster_secret_123' },
  body: '{"email": "{{ person.email }}", "total": {{ event.value }}}',
  ...extra,
});

/** The pids of the workers that completed the run's workflow tasks, in history order. */
async function workflowTaskPids(runId: string): Promise<number[]> {
  const history = await client.workflow.getHandle(runId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const identity = e.workflowTaskCompletedEventAttributes?.identity;
    return identity ? [Number(identity.split('@')[0])] : [];
  });
}

test('a delivery reaches the HTTPS endpoint, and the run is found by its search attributes', async () => {
  const metric = uniqueMetric('Cluster Order');
  const flow = await createLiveFlow(stack, metric, [hook('notify', '/cluster-happy')]);
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);
  expect(step(run, 'notify')).toMatchObject({ status: 'delivered', attempts: 1, lastHttpStatus: 200 });
  const [req, ...more] = receiver.received('/cluster-happy');
  expect(more).toHaveLength(0);
  expect(JSON.parse(req!.body)).toEqual({ email: 'ada@example.com', total: 120.5 });
  expect(req!.headers['x-api-key']).toBe('sk_cluster_secret_123');
  expect(req!.headers['idempotency-key']).toBe(step(run, 'notify').deliveryId);

  // The search attributes registered on the cluster's SQL visibility store answer queries.
  const found = await poll(
    async () => {
      const ids: string[] = [];
      for await (const w of client.workflow.list({ query: `HookflowFlowId = "${flow.id}"` }))
        ids.push(w.workflowId);
      return ids;
    },
    (ids) => ids.length === 1,
    20_000,
  );
  expect(found).toEqual([runId]);
});

test('retries end in the failed queue; a resend after the fix is delivered', async () => {
  receiver.script('/cluster-down', { status: 500 });
  const metric = uniqueMetric('Cluster Down');
  const flow = await createLiveFlow(stack, metric, [
    hook('down', '/cluster-down', { retry: { maxAttempts: 3, initialIntervalMs: 100, maxIntervalMs: 200 } }),
  ]);
  const run = await waitForRun(stack, await startOneRun(stack, metric));
  expect(step(run, 'down')).toMatchObject({ status: 'failed', attempts: 3, lastHttpStatus: 500 });
  expect(receiver.received('/cluster-down')).toHaveLength(3);

  const failed = await stack.request<{ deliveries: Summary[] }>(
    'GET',
    `/api/webhooks/deliveries?status=failed&flowId=${flow.id}`,
  );
  expect(failed.body.deliveries.map((d) => [d.id, d.status, d.attempts])).toEqual([
    [step(run, 'down').deliveryId, 'failed', 3],
  ]);
  const failedId = failed.body.deliveries[0]!.id;

  receiver.script('/cluster-down', { status: 200 }); // the endpoint is fixed
  const resend = await stack.request<{ deliveryId: string; status: string }>(
    'POST',
    `/api/webhooks/deliveries/${failedId}/resend`,
  );
  expect(resend.status).toBe(202);
  expect(resend.body.status).toBe('started');
  const resent = await poll(
    () => stack.request<{ delivery: Summary }>('GET', `/api/webhooks/deliveries/${resend.body.deliveryId}`),
    (r) => r.body.delivery?.status === 'delivered',
    30_000,
  );
  expect(resent.body.delivery).toMatchObject({ resendOf: failedId, attempts: 1 });
  expect(receiver.received('/cluster-down')).toHaveLength(4);
  const original = await stack.request<{ delivery: Summary }>('GET', `/api/webhooks/deliveries/${failedId}`);
  expect(original.body.delivery).toMatchObject({ status: 'failed', resentTo: resend.body.deliveryId });
});

test('kill -9 of one of two worker processes during delays: every run completes, once', async () => {
  const metric = uniqueMetric('Cluster Crash');
  await createLiveFlow(stack, metric, [
    { id: 'wait', type: 'delay', seconds: 4 },
    hook('after', '/cluster-after-crash', { body: '{"seq": {{ event.seq|default:-1 }}}' }),
  ]);
  const runIds: string[] = [];
  for (let i = 0; i < 6; i++) runIds.push(await startOneRun(stack, metric, { properties: { seq: i + 1 } }));
  for (const id of runIds) {
    await poll(
      () => getRun(stack, id),
      (r) => step(r, 'wait').status === 'waiting',
      20_000,
    );
  }
  // Kill a worker that holds at least one of the sleeping runs (its cache has them).
  const before = new Map<string, number[]>();
  for (const id of runIds) before.set(id, await workflowTaskPids(id));
  const pids = stack.workerPids;
  const victim = pids.findIndex((pid) => [...before.values()].some((p) => p.includes(pid!)));
  expect(victim).toBeGreaterThanOrEqual(0);
  const victimPid = pids[victim]!;
  await stack.killWorker(victim);
  // As the supervisor of `make start-cluster` does, start it again after a moment.
  await new Promise((r) => setTimeout(r, 1000));
  await stack.startWorker(victim);

  const runs = await Promise.all(runIds.map((id) => waitForRun(stack, id, 90_000)));
  expect(runs.map((r) => step(r, 'after').status)).toEqual(runIds.map(() => 'delivered'));
  // Nothing lost, nothing twice: one request per run.
  const bodies = receiver
    .received('/cluster-after-crash')
    .map((r) => (JSON.parse(r.body) as { seq: number }).seq)
    .sort((a, b) => a - b);
  expect(bodies).toEqual([1, 2, 3, 4, 5, 6]);
  // The victim's runs were finished by another process (the survivor or the restarted one).
  const moved = runIds.filter((id) => before.get(id)!.at(-1) === victimPid);
  expect(moved.length).toBeGreaterThan(0);
  for (const id of moved) {
    const after = await workflowTaskPids(id);
    expect(after.at(-1)).not.toBe(victimPid);
  }
});
