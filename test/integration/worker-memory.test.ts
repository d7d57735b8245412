import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import { createLiveFlow, postEvent, uniqueMetric } from '../support/flows';

/**
 * The worker's memory settings on the real stack: HOOKFLOW_WORKER_CACHED_WORKFLOWS bounds the runs
 * it keeps in memory while they wait, and the runs it evicted still deliver when they wake.
 */

let stack: Stack;
let receiver: Receiver;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({
    name: 'worker-memory',
    caCert: pki.caCert,
    env: { HOOKFLOW_WORKER_CACHED_WORKFLOWS: '2' },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

/** The sum of one metric's samples on the worker's Temporal SDK endpoint (0 when absent). */
async function sdkMetric(name: string): Promise<number> {
  if (!stack.temporalMetricsUrl) throw new Error('the worker logged no Temporal metrics URL');
  const text = await (await fetch(stack.temporalMetricsUrl)).text();
  return text
    .split('\n')
    .filter((line) => line.split(/[{\s]/)[0] === `hookflow_temporal_${name}`)
    .reduce((sum, line) => sum + Number(line.trim().split(/\s+/).pop()), 0);
}

test('five runs waiting in a delay: the worker keeps two in memory, and all five deliver when they wake', async () => {
  const metric = uniqueMetric('Parked');
  await createLiveFlow(stack, metric, [
    { id: 'wait', type: 'delay', seconds: 8 },
    { id: 'hook', type: 'webhook', url: receiver.url('/parked'), body: '{"email": "{{ person.email }}"}' },
  ]);
  const evictedBefore = await sdkMetric('sticky_cache_total_forced_eviction');
  for (let i = 0; i < 5; i++) {
    const res = await postEvent(stack, metric, { profile: { email: `parked${i}@example.com` } });
    expect(res.status).toBe(202);
  }
  // All five have run their first workflow task (three of them were pushed out of the cache)...
  await poll(
    () => sdkMetric('sticky_cache_total_forced_eviction'),
    (n) => n - evictedBefore >= 3,
    20_000,
  );
  // ...and while they wait, two stay cached: the setting, not the SDK's default of thousands.
  expect(receiver.received('/parked')).toHaveLength(0);
  expect(await sdkMetric('sticky_cache_size')).toBe(2);

  // The evicted runs replay their history when the timer fires, and deliver like the cached ones.
  const arrived = await poll(
    () => Promise.resolve(receiver.received('/parked')),
    (r) => r.length === 5,
    60_000,
  );
  expect(arrived.map((r) => (JSON.parse(r.body) as { email: string }).email).sort()).toEqual(
    [0, 1, 2, 3, 4].map((i) => `parked${i}@example.com`),
  );
}, 90_000);
