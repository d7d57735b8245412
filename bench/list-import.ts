import { Runtime, DefaultLogger } from '@temporalio/worker';
import { createTestPki } from '../test/harness/certs';
import { Receiver } from '../test/harness/receiver';
import { poll, Stack } from '../test/harness/stack';

/**
 * `make bench-lists [ARGS="--profiles N --deliveries"]` (issue 11): the whole stack on loopback, a live
 * list-triggered flow with one webhook step, then an import of N new profiles into the list in
 * calls of 1,000. Prints how fast members are recorded with their runs (each call answers once
 * they are committed) and how fast the API's run starter gets them accepted by Temporal (read from
 * the `runs` table); with `--deliveries`, also how fast the webhooks arrive. Asserts nothing.
 */

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const total = arg('profiles', 10_000);
  const pki = createTestPki();
  const receiver = await Receiver.start(pki.good);
  console.log(`hookflow list import benchmark: ${total} profiles in calls of 1,000`);
  const stack = await Stack.start({ name: 'bench-lists', caCert: pki.caCert });
  try {
    const list = await stack.request<{ id: string }>('POST', '/api/lists', { name: 'bench' });
    const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
      name: 'bench list',
      trigger: { type: 'list', listId: list.body.id },
      status: 'live',
      steps: [
        { id: 'hook', type: 'webhook', url: receiver.url('/list'), body: '{"email": "{{ person.email }}"}' },
      ],
    });
    const t0 = Date.now();
    let runs = 0;
    for (let start = 0; start < total; start += 1000) {
      const profiles = Array.from({ length: Math.min(1000, total - start) }, (_, i) => ({
        email: `bench-${start + i}@example.com`,
      }));
      const res = await stack.request<{ runs: unknown[] }>('POST', `/api/lists/${list.body.id}/members`, {
        profiles,
      });
      if (res.status !== 200) throw new Error(`import failed: ${res.status} ${JSON.stringify(res.body)}`);
      runs += res.body.runs.length;
    }
    // Each call answers once its members and runs are committed; the run starter starts them after.
    const recorded = (Date.now() - t0) / 1000;
    console.log(
      `  members and runs recorded     ${runs} in ${recorded.toFixed(1)} s → ${(runs / recorded).toFixed(0)} runs/s`,
    );
    const db = await stack.openDatabase();
    try {
      await poll(
        () =>
          db
            .selectFrom('runs')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('flow_id', '=', flow.body.id)
            .where('started_at', 'is', null)
            .executeTakeFirstOrThrow(),
        (r) => Number(r.n) === 0,
        60 * 60_000,
        250,
      );
    } finally {
      await db.destroy();
    }
    const started = (Date.now() - t0) / 1000;
    console.log(
      `  runs started on Temporal      ${runs} in ${started.toFixed(1)} s → ${(runs / started).toFixed(0)} runs/s`,
    );
    if (!process.argv.includes('--deliveries')) return;
    await poll(
      () => Promise.resolve(receiver.received('/list').length),
      (n) => n >= total,
      60 * 60_000,
      500,
    );
    const delivered = (Date.now() - t0) / 1000;
    console.log(
      `  webhooks received             ${total} in ${delivered.toFixed(1)} s → ${(total / delivered).toFixed(0)}/s`,
    );
  } finally {
    await stack.stop();
    await receiver.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
