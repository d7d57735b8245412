import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createTestPki } from '../test/harness/certs';
import { firstTaskStartedEagerly } from '../test/harness/eager-evidence';
import { Receiver } from '../test/harness/receiver';
import { ROOT, Stack } from '../test/harness/stack';
import { DevServer, temporalCliPath } from '../src/temporal/dev-server';
import { freePort } from '../src/temporal/ports';
import { orderEvent, peakRssMiB, percentile, pool } from './stats';

const read = (file: string) => fs.readFileSync(file, 'utf8');

/**
 * `make bench-eager [ARGS="--light 100 --events 300 --concurrency 16"]`: eager workflow start
 * (HOOKFLOW_EAGER_START) against the same API without it, and against the default deployment (a
 * worker process of its own), on one Temporal dev server in one run window. Light load (4 events
 * in flight, each waiting for its delivery) is taken in interleaved rounds, so the machine's other
 * load falls on all three alike; then deliveries per second under load, one deployment at a time.
 * Each figure says how many runs Temporal really started eagerly (the SDK's answer, counted by the
 * API, and the history of a sample): a start that fell back to a poll would measure nothing.
 * Prints figures; asserts nothing.
 */

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** Rounds the light-load events are taken in, the deployments' order rotating each round. */
const ROUNDS = 5;
/** Runs of each deployment whose history is read for the proof of eager start. */
const HISTORY_SAMPLE = 10;

interface Deployment {
  label: string;
  stack: Stack;
  metric: string;
  hookPath: string;
  light: number[];
  lightRunIds: string[];
  load?: { eventsPerSecond: number; deliveriesPerSecond: number; delivered: number; loadAvg: number };
  /** Runs the API started, and of those eagerly, per phase (its /metrics). */
  starts: { light: Starts; load: Starts };
  /** Peak RSS of the API and of the worker process (none: the API hosts the worker), MiB. */
  rss?: { api: number; worker: number };
  /** Of the history sample, runs whose first task the start request itself started. */
  historyEager?: { eager: number; sampled: number };
}

interface Starts {
  started: number;
  eagerly: number;
}

async function counters(stack: Stack): Promise<Starts> {
  const text = await (await fetch(`${stack.apiUrl}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  };
  return {
    started: value('hookflow_runs_started_total'),
    eagerly: value('hookflow_runs_started_eagerly_total'),
  };
}

const minus = (a: Starts, b: Starts): Starts => ({
  started: a.started - b.started,
  eagerly: a.eagerly - b.eagerly,
});

/** Arrival times at the receiver by path and `seq`, indexed as they come (one pass over requests). */
class Arrivals {
  private scanned = 0;
  private readonly at = new Map<string, number>();

  constructor(private readonly receiver: Receiver) {}

  get(hookPath: string, seq: number): number | undefined {
    for (; this.scanned < this.receiver.requests.length; this.scanned++) {
      const r = this.receiver.requests[this.scanned]!;
      if (r.method === 'POST') this.at.set(`${r.path}#${(JSON.parse(r.body) as { seq: number }).seq}`, r.at);
    }
    return this.at.get(`${hookPath}#${seq}`);
  }
}

async function createFlow(d: Deployment, receiver: Receiver): Promise<void> {
  const res = await d.stack.request<{ id: string }>('POST', '/api/flows', {
    name: `eager bench ${d.label}`,
    trigger: { type: 'metric', metric: d.metric },
    status: 'live',
    steps: [
      {
        id: 'hook',
        type: 'webhook',
        url: receiver.url(d.hookPath),
        headers: { 'X-Api-Key': 'bench-secret-value' },
        body:
          '{"seq": {{ event.seq|default:0 }}, "email": "{{ person.email }}", "total": {{ event.value }}, ' +
          '"items": [{% for i in event.items %}{"name": "{{ i.name }}", "price": {{ i.price }}}{% if not loop.last %},{% endif %}{% endfor %}]}',
      },
    ],
  });
  if (res.status !== 201) throw new Error(`${d.label}: flow not created: ${JSON.stringify(res.body)}`);
}

/** `count` events, 4 in flight, each waiting for its delivery; `seq` from `first`. */
async function lightLoad(d: Deployment, arrivals: Arrivals, first: number, count: number): Promise<void> {
  await pool(count, 4, async (i) => {
    const seq = first + i;
    const t0 = Date.now();
    const res = await d.stack.request<{ runs?: { runId: string }[] }>(
      'POST',
      '/api/events',
      orderEvent(d.metric, seq, `light${seq}@example.com`, `eager-${d.label}-light-${seq}`),
    );
    if (res.status !== 202) throw new Error(`${d.label}: event refused: ${res.status}`);
    let at = arrivals.get(d.hookPath, seq);
    // A delivery that ends without arriving is left out rather than waited for.
    while (at === undefined && Date.now() - t0 < 60_000) {
      await new Promise((r) => setTimeout(r, 5));
      at = arrivals.get(d.hookPath, seq);
    }
    if (at === undefined) return;
    d.light.push(at - t0);
    const runId = res.body.runs?.[0]?.runId;
    if (runId) d.lightRunIds.push(runId);
  });
}

/** `events` events posted open loop by `concurrency` posters; deliveries per second end to end. */
async function underLoad(
  d: Deployment,
  receiver: Receiver,
  first: number,
  events: number,
  concurrency: number,
): Promise<NonNullable<Deployment['load']>> {
  const before = receiver.received(d.hookPath).length;
  const t0 = Date.now();
  await pool(events, concurrency, async (i) => {
    const seq = first + i;
    const res = await d.stack.request(
      'POST',
      '/api/events',
      orderEvent(d.metric, seq, `user${seq}@example.com`, `eager-${d.label}-load-${seq}`),
    );
    if (res.status !== 202) throw new Error(`${d.label}: event refused: ${res.status}`);
  });
  const postSeconds = (Date.now() - t0) / 1000;
  const deadline = Date.now() + 10 * 60_000;
  while (receiver.received(d.hookPath).length - before < events && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const arrived = receiver.received(d.hookPath).slice(before);
  const last = Math.max(...arrived.map((r) => r.at));
  return {
    eventsPerSecond: events / postSeconds,
    deliveriesPerSecond: arrived.length / ((last - t0) / 1000),
    delivered: arrived.length,
    loadAvg: os.loadavg()[0]!,
  };
}

async function main(): Promise<void> {
  const lightEvents = arg('light', 100);
  const events = arg('events', 300);
  const concurrency = arg('concurrency', 16);
  const pki = createTestPki();
  const receiver = await Receiver.start(pki.good);
  console.log(
    `eager start bench: ${lightEvents} light-load events and ${events} under load (${concurrency} posters) per deployment`,
  );
  console.log('starting one Temporal dev server and three deployments on it...');
  const dir = path.join(os.tmpdir(), `hookflow-bench-eager-${process.pid}`);
  const server = await DevServer.start({
    port: await freePort(),
    dbFile: path.join(dir, 'temporal.sqlite'),
    executable: temporalCliPath(process.env, ROOT),
  });
  const deployments: Deployment[] = [];
  const connection = await Connection.connect({ address: server.address });
  try {
    const temporal = { address: server.address, namespace: 'default' };
    const kinds: { label: string; apiWorker: boolean; workers: number; env: Record<string, string> }[] = [
      { label: 'worker-process', apiWorker: false, workers: 1, env: {} },
      { label: 'api-worker', apiWorker: true, workers: 0, env: {} },
      { label: 'api-worker-eager', apiWorker: true, workers: 0, env: { HOOKFLOW_EAGER_START: 'true' } },
    ];
    for (const k of kinds) {
      const stack = await Stack.start({
        name: `bench-eager-${k.label}`,
        caCert: pki.caCert,
        temporal,
        apiWorker: k.apiWorker,
        workers: k.workers,
        env: { LOG_LEVEL: 'info', ...k.env },
      });
      const zero = { started: 0, eagerly: 0 };
      deployments.push({
        label: k.label,
        stack,
        metric: `Eager Bench ${k.label}`,
        hookPath: `/eager-${k.label}`,
        light: [],
        lightRunIds: [],
        starts: { light: zero, load: zero },
      });
    }
    for (const d of deployments) await createFlow(d, receiver);
    const arrivals = new Arrivals(receiver);

    // Warm-up: the first runs of a worker load its workflow code; not counted.
    for (const d of deployments) await lightLoad(d, arrivals, 1_000_000, 8);
    for (const d of deployments) d.light.length = d.lightRunIds.length = 0;

    console.log(`light load, ${ROUNDS} interleaved rounds...`);
    const perRound = Math.ceil(lightEvents / ROUNDS);
    const lightStart = await Promise.all(deployments.map((d) => counters(d.stack)));
    for (let r = 0; r < ROUNDS; r++) {
      for (let j = 0; j < deployments.length; j++) {
        const d = deployments[(r + j) % deployments.length]!;
        const count = Math.min(perRound, lightEvents - r * perRound);
        if (count > 0) await lightLoad(d, arrivals, r * perRound, count);
      }
      process.stdout.write(`\r  round ${r + 1}/${ROUNDS}   `);
    }
    process.stdout.write('\n');
    const lightLoadAvg = os.loadavg()[0]!;
    const lightEnd = await Promise.all(deployments.map((d) => counters(d.stack)));
    deployments.forEach((d, i) => (d.starts.light = minus(lightEnd[i]!, lightStart[i]!)));

    // Two passes, the second in reverse order, half the events each: a machine whose other load
    // rises or falls during the phase weighs on every deployment alike.
    const passes = [deployments, [...deployments].reverse()];
    const halves = [Math.ceil(events / 2), Math.floor(events / 2)];
    const loadRuns = new Map<Deployment, NonNullable<Deployment['load']>[]>();
    for (const d of deployments) d.starts.load = { started: 0, eagerly: 0 };
    for (const [p, order] of passes.entries()) {
      for (const d of order) {
        if (halves[p] === 0) continue;
        console.log(`under load, pass ${p + 1}/2: ${d.label}...`);
        const before = await counters(d.stack);
        const run = await underLoad(d, receiver, 2_000_000 + p * events, halves[p]!, concurrency);
        loadRuns.set(d, [...(loadRuns.get(d) ?? []), run]);
        const starts = minus(await counters(d.stack), before);
        d.starts.load = {
          started: d.starts.load.started + starts.started,
          eagerly: d.starts.load.eagerly + starts.eagerly,
        };
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const d of deployments) {
      const runs = loadRuns.get(d)!;
      d.load = {
        eventsPerSecond: mean(runs.map((r) => r.eventsPerSecond)),
        deliveriesPerSecond: mean(runs.map((r) => r.deliveriesPerSecond)),
        delivered: runs.reduce((n, r) => n + r.delivered, 0),
        loadAvg: mean(runs.map((r) => r.loadAvg)),
      };
      d.rss = {
        api: peakRssMiB(d.stack.apiPid, read),
        worker: peakRssMiB(d.stack.workerPid, read),
      };
    }

    const client = new Client({ connection, namespace: 'default' });
    for (const d of deployments) {
      const sample = d.lightRunIds.slice(0, HISTORY_SAMPLE);
      const eager = await Promise.all(sample.map((id) => firstTaskStartedEagerly(client, id)));
      d.historyEager = { eager: eager.filter((e) => e === true).length, sampled: sample.length };
    }

    console.log('');
    console.log(`eager workflow start (load average ${fmt(lightLoadAvg, 2)} during light load)`);
    const pad = (s: string, n: number) => s.padEnd(n);
    console.log(
      `  ${pad('deployment', 18)} ${pad('light p50 / p95 / p99 ms', 26)} ${pad('started eagerly', 22)} ${pad('deliveries/s', 13)} ${pad('events/s', 9)} ${pad('load: eagerly', 15)} ${pad('load avg', 9)} peak RSS API + worker MiB`,
    );
    for (const d of deployments) {
      const l = d.load!;
      console.log(
        `  ${pad(d.label, 18)} ${pad(`${fmt(percentile(d.light, 50))} / ${fmt(percentile(d.light, 95))} / ${fmt(percentile(d.light, 99))}`, 26)} ${pad(`${d.starts.light.eagerly}/${d.starts.light.started} (history ${d.historyEager!.eager}/${d.historyEager!.sampled})`, 22)} ${pad(fmt(l.deliveriesPerSecond, 1), 13)} ${pad(fmt(l.eventsPerSecond, 1), 9)} ${pad(`${d.starts.load.eagerly}/${d.starts.load.started}`, 15)} ${pad(fmt(l.loadAvg, 2), 9)} ${fmt(d.rss!.api)} + ${fmt(d.rss!.worker)}`,
      );
      if (l.delivered < events) console.log(`    ${events - l.delivered} deliveries did not arrive in time`);
    }
    const [proc, , eager] = deployments;
    const noEager = deployments[1]!;
    console.log('ratios (same run window)');
    console.log(
      `  light p50 eager / api-worker        ${fmt(percentile(eager!.light, 50) / percentile(noEager.light, 50), 2)}`,
    );
    console.log(
      `  light p50 eager / worker-process    ${fmt(percentile(eager!.light, 50) / percentile(proc!.light, 50), 2)}`,
    );
    console.log(
      `  deliveries/s eager / api-worker     ${fmt(eager!.load!.deliveriesPerSecond / noEager.load!.deliveriesPerSecond, 2)}`,
    );
    console.log(
      `  deliveries/s eager / worker-process ${fmt(eager!.load!.deliveriesPerSecond / proc!.load!.deliveriesPerSecond, 2)}`,
    );
  } finally {
    await connection.close();
    for (const d of deployments) await d.stack.stop();
    await server.stop();
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
