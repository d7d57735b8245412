/**
 * The price-drop fan-out workflow on a real dev server with a stand-in page activity: a long
 * audience continues as new (bounded history) and the workflow ends once a page says done.
 */
import crypto from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { FanOutPageResult, PriceDropFanOutInput } from '../../src/shared/run-types';
import { DevServer } from '../../src/temporal/dev-server';
import { EncryptionCodec, dataConverterOf } from '../../src/temporal/payload-codec';
import { freePort } from '../../src/temporal/ports';
import { priceDropFanOut } from '../../src/workflows';

/** The bundler's progress lines are not the test's business. */
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

let server: DevServer;
let client: Client;
/** Client and worker encrypt payloads as hookflow's do (a key of the test's own). */
const dataConverter = dataConverterOf(new EncryptionCodec([{ id: 'test', key: crypto.randomBytes(32) }]));

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  server = await DevServer.start({ port: await freePort() });
  client = new Client({ connection: await Connection.connect({ address: server.address }), dataConverter });
}, 120_000);

afterAll(async () => {
  await client?.connection.close();
  await server?.stop();
});

test('a fan-out of many pages continues as new and ends when the audience is exhausted', async () => {
  const PAGES = 230;
  const taskQueue = `fan-out-${process.pid}`;
  let calls = 0;
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({
    connection,
    dataConverter,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      logger: quiet,
    }),
    activities: {
      fanOutPriceDropPage: (_input: PriceDropFanOutInput): Promise<FanOutPageResult> => {
        calls++;
        return Promise.resolve({ done: calls >= PAGES, processed: 500, started: 1 });
      },
    },
  });
  const workflowId = `pricedrop_test_${process.pid}`;
  await worker.runUntil(async () => {
    const handle = await client.workflow.start(priceDropFanOut, {
      workflowId,
      taskQueue,
      args: [{ dropId: 'drp_1', flowId: 'flw_1' }],
    });
    await handle.result();
    const first = await client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    const last = await client.workflow.getHandle(workflowId).describe();
    expect(last.status.name).toBe('COMPLETED');
    // Each execution's history stays bounded (at most 100 pages' worth of events).
    expect(last.historyLength).toBeLessThan(1_100);
  });
  await connection.close();
  expect(calls).toBe(PAGES);
}, 180_000);
