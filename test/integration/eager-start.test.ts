import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createTestPki } from '../harness/certs';
import { firstTaskStartedEagerly } from '../harness/eager-evidence';
import { Receiver } from '../harness/receiver';
import { poll, ROOT, Stack } from '../harness/stack';
import {
  createLiveFlow,
  emailValueHook,
  startOneRun,
  step,
  uniqueMetric,
  waitForRun,
} from '../support/flows';

/** HOOKFLOW_EAGER_START: the API hosts the only worker and starts runs eagerly on it. */

let stack: Stack;
let receiver: Receiver;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({
    name: 'eager-start',
    caCert: pki.caCert,
    apiWorker: true,
    workers: 0,
    env: { HOOKFLOW_EAGER_START: 'true' },
  });
  connection = await Connection.connect({ address: stack.temporalAddress });
  client = new Client({ connection, namespace: stack.namespace });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await stack?.stop();
  await receiver?.close();
});

/** One counter of the API's /metrics (0 when absent). */
async function counter(name: string): Promise<number> {
  const text = await (await fetch(`${stack.apiUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

test('an event is delivered by the worker in the API process, its run started eagerly', async () => {
  const metric = uniqueMetric('Eager Order');
  await createLiveFlow(stack, metric, [emailValueHook('notify', receiver.url('/eager'))]);
  const [started, eager] = await Promise.all([
    counter('hookflow_runs_started_total'),
    counter('hookflow_runs_started_eagerly_total'),
  ]);
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);

  expect(step(run, 'notify')).toMatchObject({ status: 'delivered', attempts: 1, lastHttpStatus: 200 });
  expect(receiver.received('/eager').map((r) => JSON.parse(r.body) as unknown)).toEqual([
    { email: 'ada@example.com', value: 120.5 },
  ]);
  // The SDK said Temporal answered the start with the run's first workflow task...
  expect(await counter('hookflow_runs_started_total')).toBe(started + 1);
  expect(await counter('hookflow_runs_started_eagerly_total')).toBe(eager + 1);
  // ...and Temporal's history agrees: no poll started that task, the start request did.
  expect(await firstTaskStartedEagerly(client, runId)).toBe(true);
});

test('the history check tells a run whose first task a worker polled', async () => {
  // Started by a client of its own (no worker shares its connection): a normal start, whose first
  // task the API's worker polls (and fails: no such workflow type).
  const handle = await client.workflow.start('noSuchWorkflow', {
    workflowId: `eager-contrast-${process.pid}`,
    taskQueue: stack.taskQueue,
  });
  try {
    const eagerly = await poll(
      () => firstTaskStartedEagerly(client, handle.workflowId),
      (v) => v !== undefined,
    );
    expect(eagerly).toBe(false);
  } finally {
    await handle.terminate('test over');
  }
});

test('the API alone refuses to be told to host a worker, naming the entry point that does', async () => {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'api', 'main.js')], {
    env: { ...process.env, HOOKFLOW_API_WORKER: 'true', HOOKFLOW_DATA_DIR: os.tmpdir() },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code).toBe(1);
  expect(stderr).toMatch(
    /HOOKFLOW_API_WORKER: an API with a worker in its process starts as node dist\/host\/api\.js/,
  );
});

// Last: it stops the stack's API.
test('on SIGTERM the API stops, then its worker, and the process exits 0', async () => {
  expect(await stack.signalApi('SIGTERM')).toBe(0);
  const lines = stack.logs.split('\n');
  const stopped = lines.findIndex((l) => l.includes('"msg":"API stopped"'));
  const workerDone = lines.findIndex((l) => l.includes('"msg":"Workflow Worker terminated"'));
  expect(workerDone).toBeGreaterThan(-1);
  expect(stopped).toBeGreaterThan(workerDone);
});
