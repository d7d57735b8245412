import { Runtime, DefaultLogger } from '@temporalio/worker';
import { createTestPki } from '../test/harness/certs';
import { Receiver } from '../test/harness/receiver';
import { poll, Stack } from '../test/harness/stack';

/**
 * `make bench-price-drop [ARGS="--viewers N"]` (issue 12): the whole stack on loopback, a live
 * price-drop flow with one webhook step, N profiles (default 10,000) that viewed one item, then
 * one 20% drop. Prints how long the catalog request took, how fast the fan-out workflow entered and
 * started the runs (from the drop's progress), and how fast the webhooks arrived. Asserts nothing.
 */

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const SEED_CONCURRENCY = 16;

interface DropBody {
  fanouts: { status: string; candidates: number; processed: number; started: number }[];
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const viewers = arg('viewers', 10_000);
  const pki = createTestPki();
  const receiver = await Receiver.start(pki.good);
  console.log(`hookflow price-drop fan-out benchmark: ${viewers} viewers of one item, one 20% drop`);
  const stack = await Stack.start({ name: 'bench-price-drop', caCert: pki.caCert });
  try {
    const flow = await stack.request('POST', '/api/flows', {
      name: 'bench price drop',
      trigger: { type: 'price_drop', threshold: { percent: 10 }, audience: ['viewed'], lookbackDays: 30 },
      status: 'live',
      steps: [
        {
          id: 'hook',
          type: 'webhook',
          url: receiver.url('/drop'),
          body: '{"email": "{{ person.email }}", "price": {{ event.price }}}',
        },
      ],
    });
    if (flow.status !== 201) throw new Error(`flow refused: ${flow.status} ${JSON.stringify(flow.body)}`);
    const put = (price: number) =>
      stack.request<{ drop?: { id: string } }>('PUT', '/api/catalog/items/bench-sku', {
        title: 'Bench item',
        price,
        currency: 'USD',
        inStock: true,
      });
    await put(100);
    const s0 = Date.now();
    let next = 0;
    const seedOne = async () => {
      while (next < viewers) {
        const i = next++;
        const res = await stack.request('POST', '/api/events', {
          metric: 'Viewed Product',
          profile: { email: `viewer-${i}@example.com` },
          properties: { ProductID: 'bench-sku' },
        });
        if (res.status !== 202) throw new Error(`event refused: ${res.status}`);
      }
    };
    await Promise.all(Array.from({ length: SEED_CONCURRENCY }, seedOne));
    console.log(`  seeded ${viewers} viewers in ${((Date.now() - s0) / 1000).toFixed(1)} s (events API)`);

    const t0 = Date.now();
    const res = await put(80);
    const requestMs = Date.now() - t0;
    const dropId = res.body.drop?.id;
    if (!dropId) throw new Error(`no drop recorded: ${JSON.stringify(res.body)}`);
    console.log(`  catalog request (drop recorded, fan-out started)  ${requestMs} ms`);
    const done = await poll(
      async () => (await stack.request<DropBody>('GET', `/api/catalog/drops/${dropId}`)).body,
      (d) => d.fanouts.every((f) => f.status === 'done'),
      60 * 60_000,
      250,
    );
    const fanoutS = (Date.now() - t0) / 1000;
    const f = done.fanouts[0]!;
    console.log(
      `  fan-out entered and started   ${f.started} of ${f.candidates} candidates in ${fanoutS.toFixed(1)} s → ${(f.started / fanoutS).toFixed(0)} runs/s`,
    );
    await poll(
      () => Promise.resolve(receiver.received('/drop').length),
      (n) => n >= f.started,
      60 * 60_000,
      500,
    );
    const deliveredS = (Date.now() - t0) / 1000;
    console.log(
      `  webhooks received             ${f.started} in ${deliveredS.toFixed(1)} s → ${(f.started / deliveredS).toFixed(0)} deliveries/s`,
    );
  } finally {
    await stack.stop();
    await receiver.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `price-drop benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
