import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { dataConverterOf } from '../src/temporal/payload-codec';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createTestPki } from '../test/harness/certs';
import { TestCluster } from '../test/harness/cluster';
import { Receiver } from '../test/harness/receiver';
import { Stack } from '../test/harness/stack';
import { benchIngest, ingestOptions, printIngest } from './ingest';
import { benchParked } from './parked';
import { cpuMs, orderEvent, percentile, pool } from './stats';
import type { TimedDelivery } from './stages';
import { measureStages, printStages } from './stages';
import { benchTemplates } from './templates';
import type { ProcessMemory } from './memory';
import { printMemory, stackMemory } from './memory';
import { measureCryptoOverhead, printCryptoOverhead } from './codec';
import type { HistoryProfile } from './fast-path';
import { historyProfile, printHistoryProfile } from './fast-path';

/**
 * `npm run bench [-- --events N --concurrency C --light L]`: the whole stack on loopback, a live
 * flow with one webhook step to a local HTTPS receiver, N events, then L events at light load; then
 * the floor (one no-op activity per workflow) on the same dev server. With `--cluster [--workers
 * 1,2,3]` the same on a Temporal cluster on PostgreSQL with 1, 2, 3 worker processes, and the
 * ratios cluster / dev server. `--parked N`: only the parked-runs bench (bench/parked.ts). Prints
 * figures; asserts nothing.
 */

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

/** `--name 1,2,3`: positive integers. */
function listArg(name: string, fallback: number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const values = (process.argv[i + 1] ?? '').split(',').map(Number);
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v <= 0))
    throw new Error(`--${name} must be positive integers separated by commas, e.g. 1,2,3`);
  return values;
}

/** Reads a /proc file (CPU and memory figures of the stack's processes). */
const readFile = (f: string) => fs.readFileSync(f, 'utf8');

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

function progress(label: string, done: number, total: number): void {
  if (done === total || done % Math.max(1, Math.floor(total / 20)) === 0) {
    process.stdout.write(`\r  ${label}: ${done}/${total}   `);
    if (done === total) process.stdout.write('\n');
  }
}

/** What one run of hookflow on one engine measured. */
interface HookflowFigures {
  eventsPerSecond: number;
  deliveriesPerSecond: number;
  delivered: number;
  /** Open loop, queueing included. */
  latencies: number[];
  /** 4 events in flight, each waiting for its delivery. */
  light: number[];
  /** The light-load deliveries, for the per-stage breakdown (bench/stages.ts). */
  lightRuns: TimedDelivery[];
  runIds: string[];
  /** The machine's 1-minute load average at the end: figures taken under other load differ. */
  load: number;
  /** Fast-path share, history events and workflow tasks per run, over every run of the load. */
  history: HistoryProfile;
  /** CPU ms per delivered event, per process, over the load (posting to the last arrival). */
  cpuPerDelivery: { workers: number; api: number; temporal: number };
}

/** Posts `events` events to a new live flow with one webhook step and times their deliveries. */
async function measureHookflow(
  stack: Stack,
  receiver: Receiver,
  opts: { events: number; concurrency: number; lightEvents: number; tag: string },
): Promise<HookflowFigures> {
  const { events, concurrency, lightEvents, tag } = opts;
  const metric = `Bench Order ${tag}`;
  const hookPath = `/bench-${tag}`;
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: `bench ${tag}`,
    trigger: { type: 'metric', metric },
    status: 'live',
    steps: [
      {
        id: 'hook',
        type: 'webhook',
        url: receiver.url(hookPath),
        headers: { 'X-Api-Key': 'bench-secret-value' },
        // The bench's endpoint is its own: no rate limit (the default, 100 per second per
        // destination, would cap the figure this measures); concurrency stays at its default.
        limits: { ratePerSecond: 0 },
        body:
          '{"seq": {{ event.seq|default:0 }}, "email": "{{ person.email }}", "total": {{ event.value }}, ' +
          '"items": [{% for i in event.items %}{"name": "{{ i.name }}", "price": {{ i.price }}}{% if not loop.last %},{% endif %}{% endfor %}]}',
      },
    ],
  });
  if (flow.status !== 201) throw new Error(`could not create the flow: ${JSON.stringify(flow.body)}`);

  const temporalPid = stack.hasDevServer ? stack.server.process.pid : undefined;
  const cpuNow = () => ({
    workers: stack.workerPids.reduce<number>((n, pid) => n + cpuMs(pid, readFile), 0),
    api: cpuMs(stack.apiPid, readFile),
    temporal: cpuMs(temporalPid, readFile),
  });
  const cpu0 = cpuNow();
  const postedAt = new Array<number>(events);
  const runIds: string[] = [];
  let accepted = 0;
  const t0 = performance.now();
  const wall0 = Date.now();
  await pool(events, concurrency, async (i) => {
    postedAt[i] = Date.now();
    const res = await stack.request<{ runs: { runId: string }[] }>(
      'POST',
      '/api/events',
      orderEvent(metric, i, `user${i}@example.com`, `bench-${tag}-${i}`),
    );
    if (res.status !== 202) throw new Error(`event ${i} refused: ${res.status}`);
    runIds.push(res.body.runs[0]!.runId);
    progress('events posted', ++accepted, events);
  });
  const postSeconds = (performance.now() - t0) / 1000;

  // Until every delivery arrived, or ended without arriving (skipped or failed: under a heavy
  // load a render can pass its time limit), as the delivery records say.
  const deadline = Date.now() + 30 * 60_000;
  let notDelivered = 0;
  let checkedAt = 0;
  while (receiver.received(hookPath).length + notDelivered < events && Date.now() < deadline) {
    progress('deliveries arrived', receiver.received(hookPath).length, events);
    await new Promise((r) => setTimeout(r, 250));
    if (Date.now() - checkedAt > 2000) {
      checkedAt = Date.now();
      const stats = await stack.request<{ counts: Record<string, number> }>(
        'GET',
        `/api/webhooks/stats?flowId=${flow.body.id}`,
      );
      notDelivered = (stats.body.counts.failed ?? 0) + (stats.body.counts.skipped ?? 0);
    }
  }
  const arrivals = receiver.received(hookPath);
  progress('deliveries arrived', arrivals.length, events);
  if (notDelivered > 0)
    console.log(`  ${notDelivered} deliveries ended without arriving (see the worker log)`);
  const seqs = new Set(arrivals.map((r) => (JSON.parse(r.body) as { seq: number }).seq));
  if (seqs.size < arrivals.length)
    console.log(
      `  ${arrivals.length - seqs.size} requests arrived again (same Idempotency-Key; a run taken over)`,
    );
  const latencies = arrivals.map((r) => r.at - postedAt[(JSON.parse(r.body) as { seq: number }).seq]!);
  const lastArrival = Math.max(...arrivals.map((r) => r.at));
  const e2eSeconds = (lastArrival - wall0) / 1000;

  const cpu1 = cpuNow();
  const perDelivery = (k: keyof typeof cpu0) => (cpu1[k] - cpu0[k]) / Math.max(1, arrivals.length);
  const cpuPerDelivery = {
    workers: perDelivery('workers'),
    api: perDelivery('api'),
    temporal: perDelivery('temporal'),
  };

  // Open-loop posting above capacity measures queueing; this measures one delivery's own path.
  console.log(`latency at light load: 4 events in flight, each waiting for its delivery...`);
  const light: number[] = [];
  const lightRuns: TimedDelivery[] = [];
  // Index arrivals as they come (incrementally: the receiver shares this process's event loop).
  const lightArrivals = new Map<number, number>();
  let scanned = 0;
  const arrivedAt = (seq: number) => {
    for (; scanned < receiver.requests.length; scanned++) {
      const r = receiver.requests[scanned]!;
      if (r.path === hookPath && r.method === 'POST')
        lightArrivals.set((JSON.parse(r.body) as { seq: number }).seq, r.at);
    }
    return lightArrivals.get(seq);
  };
  await pool(lightEvents, 4, async (i) => {
    const seq = events + i;
    const t0 = Date.now();
    const res = await stack.request<{ runs?: { runId: string }[] }>('POST', '/api/events', {
      metric,
      profile: { email: `light${i}@example.com` },
      properties: { seq, value: 1, items: [] },
    });
    const runId = res.body.runs?.[0]?.runId;
    let at = arrivedAt(seq);
    // A delivery that ends without arriving (see above) is left out rather than waited for.
    while (at === undefined && Date.now() - t0 < 60_000) {
      await new Promise((r) => setTimeout(r, 10));
      at = arrivedAt(seq);
    }
    if (at !== undefined) light.push(at - t0);
    if (at !== undefined && runId) lightRuns.push({ runId, postedAt: t0, arrivedAt: at });
    progress('light-load deliveries', i + 1, lightEvents);
  });
  const load = os.loadavg()[0]!;
  return {
    eventsPerSecond: events / postSeconds,
    deliveriesPerSecond: seqs.size / e2eSeconds,
    delivered: seqs.size,
    latencies,
    light,
    lightRuns,
    runIds,
    load,
    history: await historyProfile(stack, runIds),
    cpuPerDelivery,
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const events = arg('events', 2000);
  const concurrency = arg('concurrency', 16);
  const lightEvents = arg('light', 200);
  const clusterWorkers = listArg('workers', [1, 2, 3]);
  const onCluster = process.argv.includes('--cluster');
  if (process.argv.includes('--parked')) return parkedOnly(concurrency);
  console.log('template rendering (order payload, 5 line items, loop and filters)...');
  const tpl = await benchTemplates();
  console.log(`  renders per second, in process   ${fmt(tpl.inProcess, 0)}  (${tpl.bytes} bytes each)`);
  console.log(
    `  renders per second, worker path  ${fmt(tpl.renderer, 0)}  (TemplateRenderer.render, as the worker renders)`,
  );
  console.log(
    `  renders per second, threads only ${fmt(tpl.threads, 0)}  (every render hopping to a thread)`,
  );
  if (process.argv.includes('--templates-only')) return;

  const pki = createTestPki();
  const receiver = await Receiver.start(pki.good);
  console.log(`hookflow benchmark: ${events} events, ${concurrency} concurrent posts`);
  console.log('starting the stack (Temporal dev server, worker, API)...');
  const stack = await Stack.start({ name: 'bench', caCert: pki.caCert, env: { LOG_LEVEL: 'info' } });
  let dev: HookflowFigures;
  let devFloor: Floor;
  try {
    dev = await measureHookflow(stack, receiver, { events, concurrency, lightEvents, tag: 'dev' });
    const { latencies, light, runIds } = dev;

    const connection = await Connection.connect({ address: stack.server.address });
    const client = new Client({ connection, dataConverter: dataConverterOf(stack.payloadCodec()) });
    const sample = runIds.slice(0, 20);
    await Promise.all(sample.map((id) => client.workflow.getHandle(id).result()));
    const histories = await Promise.all(sample.map((id) => client.workflow.getHandle(id).fetchHistory()));
    const cryptoOverhead = await measureCryptoOverhead(histories, stack.payloadCodec());

    const db = await stack.openDatabase();
    const stages = await measureStages(client, db, dev.lightRuns).finally(() => db.destroy());

    console.log('measuring the floor (one no-op activity per workflow, same dev server)...');
    const floor = await measureFloor(
      stack.server.address,
      'default',
      client,
      events,
      concurrency,
      stack.server.process.pid,
    );
    devFloor = floor;
    await connection.close();

    console.log('events accepted: hookflow beside bare Express...');
    const ingest = await benchIngest(stack, receiver.url('/bench-ingest'), ingestOptions());

    const deliveriesPerSecond = dev.deliveriesPerSecond;
    console.log('');
    console.log('hookflow (event → webhook arrival)');
    console.log(`  events accepted per second      ${fmt(dev.eventsPerSecond)}`);
    console.log(
      `  deliveries per second (e2e)     ${fmt(deliveriesPerSecond)}  (${dev.delivered}/${events} delivered)`,
    );
    console.log(
      `  latency p50 / p95 / p99         ${fmt(percentile(latencies, 50), 0)} / ${fmt(percentile(latencies, 95), 0)} / ${fmt(percentile(latencies, 99), 0)} ms  (open loop, queueing included)`,
    );
    console.log(
      `  latency at light load p50/95/99 ${fmt(percentile(light, 50), 0)} / ${fmt(percentile(light, 95), 0)} / ${fmt(percentile(light, 99), 0)} ms`,
    );
    printHistoryProfile(dev.history);
    console.log(
      `  CPU ms per delivery             worker ${fmt(dev.cpuPerDelivery.workers, 2)} · API ${fmt(dev.cpuPerDelivery.api, 2)} · dev server ${fmt(dev.cpuPerDelivery.temporal, 2)}  (the load, posted → last arrival)`,
    );
    printStages(stages);
    console.log('floor (workflow with one no-op activity)');
    console.log(`  workflows per second            ${fmt(floor.perSecond)}`);
    console.log(
      `  latency p50 / p95 / p99         ${fmt(percentile(floor.latencies, 50), 0)} / ${fmt(percentile(floor.latencies, 95), 0)} / ${fmt(percentile(floor.latencies, 99), 0)} ms`,
    );
    console.log(`  history events per run          ${fmt(floor.historyEvents)}`);
    console.log(`  CPU ms per workflow, dev server ${fmt(floor.temporalCpuPerRun, 2)}`);
    console.log('ratio');
    console.log(
      `  hookflow / floor throughput     ${fmt(deliveriesPerSecond / floor.perSecond, 2)}  (goal ≥ 2; ${fmt(deliveriesPerSecond)} deliveries/s beside the peer's 160)`,
    );
    console.log(
      `  hookflow / floor p50 latency    ${fmt(percentile(light, 50) / percentile(floor.latencies, 50), 2)}  (light load vs the floor's closed loop)`,
    );
    printIngest(ingest);
    printCryptoOverhead(cryptoOverhead, { p50Ms: percentile(light, 50) });
    // Read last, so the peaks cover the whole bench: deliveries, the floor and the ingest load.
    printMemory(stackMemory(stack, { devServerPid: stack.server.process.pid }));
  } finally {
    await stack.stop();
  }
  try {
    if (onCluster)
      await benchCluster(receiver, pki.caCert, dev, devFloor, {
        events,
        concurrency,
        lightEvents,
        clusterWorkers,
      });
  } finally {
    await receiver.close();
  }
}

/** `--parked N [--release-after S]`: N runs waiting in a delay (bench/parked.ts), nothing else. */
async function parkedOnly(concurrency: number): Promise<void> {
  const pki = createTestPki();
  const receiver = await Receiver.start(pki.good);
  console.log('starting the stack (Temporal dev server, worker, API)...');
  const stack = await Stack.start({ name: 'bench-parked', caCert: pki.caCert, env: { LOG_LEVEL: 'info' } });
  try {
    const releaseAfter = process.argv.includes('--release-after') ? arg('release-after', 1) : undefined;
    await benchParked(stack, receiver, {
      parked: arg('parked', 10_000),
      concurrency,
      ...(releaseAfter === undefined ? {} : { releaseAfterSeconds: releaseAfter }),
    });
  } finally {
    await stack.stop();
    await receiver.close();
  }
}

/**
 * `--cluster [--workers 1,2,3]`: the same measurement on a Temporal server on PostgreSQL (8 history
 * shards, test/harness/cluster.ts) with 1, 2, 3… worker processes, and the floor on it, each beside
 * the dev server's figures of the same run.
 */
async function benchCluster(
  receiver: Receiver,
  caCert: string,
  dev: HookflowFigures,
  devFloor: Floor,
  opts: { events: number; concurrency: number; lightEvents: number; clusterWorkers: number[] },
): Promise<void> {
  console.log('');
  console.log('starting the cluster (PostgreSQL with fsync on, Temporal server with 8 history shards)...');
  // Durable like the dev server's SQLite file, so the ratio compares engines, not fsync settings.
  const cluster = await TestCluster.start({ name: 'bench', durable: true });
  const rows: { workers: number; figures: HookflowFigures }[] = [];
  const memory: ProcessMemory[] = [];
  let floor: Floor;
  try {
    for (const workers of opts.clusterWorkers) {
      console.log(`hookflow on the cluster with ${workers} worker process(es)...`);
      const stack = await Stack.start({
        name: `bench-cluster-${workers}`,
        caCert,
        env: { LOG_LEVEL: 'info', HOOKFLOW_DATABASE_URL: cluster.databaseUrl('hookflow') },
        temporal: { address: cluster.address, namespace: cluster.namespace },
        workers,
      });
      try {
        rows.push({
          workers,
          figures: await measureHookflow(stack, receiver, { ...opts, tag: `cluster-${workers}` }),
        });
        memory.push(...stackMemory(stack, { prefix: `cluster, ${workers} workers:` }));
      } finally {
        await stack.stop();
      }
    }
    console.log('measuring the floor on the cluster...');
    const connection = await Connection.connect({ address: cluster.address });
    const client = new Client({ connection, namespace: cluster.namespace });
    floor = await measureFloor(cluster.address, cluster.namespace, client, opts.events, opts.concurrency);
    await connection.close();
  } finally {
    await cluster.stop();
  }
  const p50 = (v: number[]) => percentile(v, 50);
  const p95 = (v: number[]) => percentile(v, 95);
  console.log('');
  console.log('cluster (Temporal server on PostgreSQL, 8 history shards) beside the dev server');
  console.log(
    '  engine          deliveries/s  ratio  × floor  light p50 / p95 ms   ratio p50  fast path  events/run  (delivered, load average)',
  );
  const line = (label: string, f: HookflowFigures, floorPerSecond: number) =>
    console.log(
      `  ${label.padEnd(15)} ${fmt(f.deliveriesPerSecond).padStart(12)}  ${fmt(f.deliveriesPerSecond / dev.deliveriesPerSecond, 2).padStart(5)}  ${fmt(f.deliveriesPerSecond / floorPerSecond, 2).padStart(7)}  ${`${fmt(p50(f.light), 0)} / ${fmt(p95(f.light), 0)}`.padStart(17)}   ${fmt(p50(f.light) / p50(dev.light), 2).padStart(9)}  ${`${fmt((100 * f.history.fastRuns) / f.history.runs, 0)} %`.padStart(9)}  ${fmt(f.history.eventsPerRun).padStart(10)}  (${f.delivered}/${opts.events}, ${fmt(f.load, 1)})`,
    );
  line('dev server, 1', dev, devFloor.perSecond);
  for (const r of rows) line(`cluster, ${r.workers}`, r.figures, floor.perSecond);
  console.log('  floor           workflows/s   ratio  p50 / p95 ms');
  const floorLine = (label: string, f: Floor) =>
    console.log(
      `  ${label.padEnd(15)} ${fmt(f.perSecond).padStart(12)}  ${fmt(f.perSecond / devFloor.perSecond, 2).padStart(5)}  ${`${fmt(p50(f.latencies), 0)} / ${fmt(p95(f.latencies), 0)}`.padStart(13)}`,
    );
  floorLine('dev server', devFloor);
  floorLine('cluster', floor);
  printMemory(memory);
}

interface Floor {
  perSecond: number;
  latencies: number[];
  historyEvents: number;
  /** CPU ms the Temporal dev server spent per floor workflow (NaN on the cluster). */
  temporalCpuPerRun: number;
}

async function measureFloor(
  address: string,
  namespace: string,
  client: Client,
  n: number,
  concurrency: number,
  serverPid?: number,
): Promise<Floor> {
  const taskQueue = `bench-floor-${process.pid}`;
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowsPath: path.join(__dirname, 'floor-workflows.js'),
    activities: { noop: () => Promise.resolve() },
  });
  const latencies: number[] = [];
  const ids: string[] = [];
  let perSecond = 0;
  let temporalCpu = NaN;
  await worker.runUntil(async () => {
    const cpu0 = cpuMs(serverPid, readFile);
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
    temporalCpu = cpuMs(serverPid, readFile) - cpu0;
  });
  const histories = await Promise.all(
    ids.slice(0, 20).map((id) => client.workflow.getHandle(id).fetchHistory()),
  );
  await connection.close();
  return {
    perSecond,
    latencies,
    historyEvents: histories.reduce((s, h) => s + (h.events?.length ?? 0), 0) / histories.length,
    temporalCpuPerRun: temporalCpu / n,
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
