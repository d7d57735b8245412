import { ChaosReceiver } from '../../bench/chaos-receiver';
import { CHAOS_ENV, formatTable, rowProblems, runScenario } from '../../bench/chaos-scenarios';
import { createTestPki } from '../harness/certs';
import { Stack } from '../harness/stack';

/**
 * The short variant of `make chaos` (bench/chaos-scenarios.ts): 100 events under load while the
 * worker is killed (SIGKILL) and while the endpoint answers 503, then refuses connections.
 */

let stack: Stack;
let receiver: ChaosReceiver;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await ChaosReceiver.start(pki.good);
  stack = await Stack.start({ name: 'chaos', caCert: pki.caCert, env: CHAOS_ENV });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

const options = { events: 100, concurrency: 8, outageMs: 10_000, drainTimeoutMs: 150_000 };

test('the worker killed under load: every accepted event delivered once or with the same key, counted right', async () => {
  const row = await runScenario('worker-kill', stack, receiver, options);
  process.stdout.write(`${formatTable([row])}\n`);
  expect(rowProblems(row)).toEqual([]);
  // Every request the endpoint got twice is flagged on its delivery (more may be: "may have").
  expect(row.flagged).toBeGreaterThanOrEqual(row.duplicates);
  expect(row).toMatchObject({
    accepted: 100,
    unique: 100,
    failed: 0,
    skipped: 0,
    stuck: 0,
    analyticsAgree: true,
  });
}, 300_000);

test('the endpoint answers 503, then refuses connections: every event delivered after it recovers', async () => {
  const row = await runScenario('receiver-outage', stack, receiver, options);
  process.stdout.write(`${formatTable([row])}\n`);
  expect(rowProblems(row)).toEqual([]);
  expect(row).toMatchObject({ accepted: 100, unique: 100, duplicates: 0, stuck: 0, analyticsAgree: true });
}, 300_000);
