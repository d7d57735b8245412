import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createTestPki } from '../test/harness/certs';
import { Receiver } from '../test/harness/receiver';
import { Stack } from '../test/harness/stack';
import { peakRssMiB, percentile, pool } from './stats';
import { benchTemplates } from './templates';

/**
 * `npm run bench [-- --events N --concurrency C]`: the whole stack on loopback, a live flow with
 * one webhook step to a local HTTPS receiver, N events; then the floor (one no-op activity per
 * workflow) on the same dev server. Prints figures; asserts nothing.
 */

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

function progress(label: string, done: number, total: number): void {
  if (done === total || done % Math.max(1, Math.floor(total / 20)) === 0) {
    process.stdout.write(`\r  ${label}: ${done}/${total}   `);
    if (done === total) process.stdout.write('\n');
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const events = arg('events', 2000);
  const concurrency = arg('concurrency', 16);
  console.log('template rendering (order payload, 5 line items, loop and filters)...');
  const tpl = await benchTemplates();
  console.log(`  renders per second, in process   ${fmt(tpl.inProcess, 0)}  (${tpl.bytes} bytes each)`);
  console.log(`  renders per second, thread pool  ${fmt(tpl.pooled, 0)}  (as the worker renders)`);
  if (process.argv.includes('--templates-only')) return;

  const pki = createTestPki();
  const receiver = await Receiver.start(pki.good);
  console.log(`hookflow benchmark: ${events} events, ${concurrency} concurrent posts`);
  console.log('starting the stack (Temporal dev server, worker, API)...');
  const stack = await Stack.start({ name: 'bench', caCert: pki.caCert, env: { LOG_LEVEL: 'info' } });
  try {
    const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
      name: 'bench',
      trigger: { type: 'metric', metric: 'Bench Order' },
      status: 'live',
      steps: [
        {
          id: 'hook',
          type: 'webhook',
          url: receiver.url('/bench'),
          headers: { 'X-Api-Key': 'bench-secret-value' },
          body:
            '{"seq": {{ event.seq|default:0 }}, "email": "{{ person.email }}", "total": {{ event.value }}, ' +
            '"items": [{% for i in event.items %}{"name": "{{ i.name }}", "price": {{ i.price }}}{% if not loop.last %},{% endif %}{% endfor %}]}',
        },
      ],
    });
    if (flow.status !== 201) throw new Error(`could not create the flow: ${JSON.stringify(flow.body)}`);

    const postedAt = new Array<number>(events);
    const runIds: string[] = [];
    let accepted = 0;
    const t0 = performance.now();
    const wall0 = Date.now();
    await pool(events, concurrency, async (i) => {
      postedAt[i] = Date.now();
      const res = await stack.request<{ runs: { runId: string }[] }>('POST', '/api/events', {
        metric: 'Bench Order',
        profile: { email: `user${i}@example.com`, first_name: 'Bench', properties: { tier: 'gold' } },
        properties: {
          seq: i,
          value: 42.5,
          items: [
            { name: 'Tea', price: 10 },
            { name: 'Cup', price: 32.5 },
          ],
        },
        unique_id: `bench-${i}`,
      });
      if (res.status !== 202) throw new Error(`event ${i} refused: ${res.status}`);
      runIds.push(res.body.runs[0]!.runId);
      progress('events posted', ++accepted, events);
    });
    const postSeconds = (performance.now() - t0) / 1000;

    const deadline = Date.now() + 30 * 60_000;
    while (receiver.received('/bench').length < events && Date.now() < deadline) {
      progress('deliveries arrived', receiver.received('/bench').length, events);
      await new Promise((r) => setTimeout(r, 250));
    }
    const arrivals = receiver.received('/bench');
    progress('deliveries arrived', arrivals.length, events);
    const latencies = arrivals.map((r) => r.at - postedAt[(JSON.parse(r.body) as { seq: number }).seq]!);
    const lastArrival = Math.max(...arrivals.map((r) => r.at));
    const e2eSeconds = (lastArrival - wall0) / 1000;

    // Open-loop posting above capacity measures queueing; this measures one delivery's own path.
    console.log('latency at light load: 4 events in flight, each waiting for its delivery...');
    const light: number[] = [];
    // Index arrivals as they come (incrementally: the receiver shares this process's event loop).
    const lightArrivals = new Map<number, number>();
    let scanned = 0;
    const arrivedAt = (seq: number) => {
      for (; scanned < receiver.requests.length; scanned++) {
        const r = receiver.requests[scanned]!;
        if (r.path === '/bench' && r.method === 'POST')
          lightArrivals.set((JSON.parse(r.body) as { seq: number }).seq, r.at);
      }
      return lightArrivals.get(seq);
    };
    await pool(200, 4, async (i) => {
      const seq = events + i;
      const t0 = Date.now();
      await stack.request('POST', '/api/events', {
        metric: 'Bench Order',
        profile: { email: `light${i}@example.com` },
        properties: { seq, value: 1, items: [] },
      });
      let at = arrivedAt(seq);
      while (at === undefined) {
        await new Promise((r) => setTimeout(r, 10));
        at = arrivedAt(seq);
      }
      light.push(at - t0);
      progress('light-load deliveries', light.length, 200);
    });

    const workerRss = peakRssMiB(stack.workerPid, (f) => fs.readFileSync(f, 'utf8'));
    const serverRss = peakRssMiB(stack.server.process.pid, (f) => fs.readFileSync(f, 'utf8'));

    const connection = await Connection.connect({ address: stack.server.address });
    const client = new Client({ connection });
    const sample = runIds.slice(0, 20);
    await Promise.all(sample.map((id) => client.workflow.getHandle(id).result()));
    const histories = await Promise.all(sample.map((id) => client.workflow.getHandle(id).fetchHistory()));
    const historyEvents = histories.reduce((n, h) => n + (h.events?.length ?? 0), 0) / histories.length;

    console.log('measuring the floor (one no-op activity per workflow, same dev server)...');
    const floor = await measureFloor(stack.server.address, client, events, concurrency);
    await connection.close();

    const deliveriesPerSecond = arrivals.length / e2eSeconds;
    console.log('');
    console.log('hookflow (event → webhook arrival)');
    console.log(`  events accepted per second      ${fmt(events / postSeconds)}`);
    console.log(
      `  deliveries per second (e2e)     ${fmt(deliveriesPerSecond)}  (${arrivals.length}/${events} delivered)`,
    );
    console.log(
      `  latency p50 / p95 / p99         ${fmt(percentile(latencies, 50), 0)} / ${fmt(percentile(latencies, 95), 0)} / ${fmt(percentile(latencies, 99), 0)} ms  (open loop, queueing included)`,
    );
    console.log(
      `  latency at light load p50/95/99 ${fmt(percentile(light, 50), 0)} / ${fmt(percentile(light, 95), 0)} / ${fmt(percentile(light, 99), 0)} ms`,
    );
    console.log(`  peak RSS worker / dev server    ${fmt(workerRss)} / ${fmt(serverRss)} MiB`);
    console.log(`  history events per run          ${fmt(historyEvents)}`);
    console.log('floor (workflow with one no-op activity)');
    console.log(`  workflows per second            ${fmt(floor.perSecond)}`);
    console.log(
      `  latency p50 / p95 / p99         ${fmt(percentile(floor.latencies, 50), 0)} / ${fmt(percentile(floor.latencies, 95), 0)} / ${fmt(percentile(floor.latencies, 99), 0)} ms`,
    );
    console.log(`  history events per run          ${fmt(floor.historyEvents)}`);
    console.log('ratio');
    console.log(`  hookflow / floor throughput     ${fmt(deliveriesPerSecond / floor.perSecond, 2)}`);
    console.log(
      `  hookflow / floor p50 latency    ${fmt(percentile(light, 50) / percentile(floor.latencies, 50), 2)}  (light load vs the floor's closed loop)`,
    );
  } finally {
    await stack.stop();
    await receiver.close();
  }
}

async function measureFloor(address: string, client: Client, n: number, concurrency: number) {
  const taskQueue = `bench-floor-${process.pid}`;
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: path.join(__dirname, 'floor-workflows.js'),
    activities: { noop: () => Promise.resolve() },
  });
  const latencies: number[] = [];
  const ids: string[] = [];
  let perSecond = 0;
  await worker.runUntil(async () => {
    const t0 = performance.now();
    let done = 0;
    await pool(n, concurrency, async (i) => {
      const started = performance.now();
      const id = `floor-${process.pid}-${i}`;
      await client.workflow.execute('floorWorkflow', { taskQueue, workflowId: id });
      latencies.push(performance.now() - started);
      ids.push(id);
      progress('floor workflows', ++done, n);
    });
    perSecond = n / ((performance.now() - t0) / 1000);
  });
  const histories = await Promise.all(
    ids.slice(0, 20).map((id) => client.workflow.getHandle(id).fetchHistory()),
  );
  await connection.close();
  return {
    perSecond,
    latencies,
    historyEvents: histories.reduce((s, h) => s + (h.events?.length ?? 0), 0) / histories.length,
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
