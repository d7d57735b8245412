import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { createTestPki } from '../test/harness/certs';
import { Receiver } from '../test/harness/receiver';
import { Stack } from '../test/harness/stack';
import { orderEvent, percentile } from './stats';

/**
 * Events accepted per second by `POST /api/events` (issue 15 §1), beside a bare Express endpoint
 * that parses the same JSON and writes one SQLite row (bench/bare-ingest-server.ts), in the same run:
 * the ratio hookflow / bare is the figure that counts. Both run as their own child processes and
 * take the same bodies through C keep-alive connections (closed loop: each connection sends its next
 * event when the last is answered). hookflow runs whole: the worker is up and a live flow with one
 * webhook step matches the metric, so every event records a run, which starts and delivers while
 * the load goes on (`--ingest-without-worker` stops the worker first, for a figure of the API alone,
 * labelled ISOLATED). Standalone: `make bench-ingest ARGS="--ingest-events 5000 --ingest-concurrency 16"`.
 */

/** What one endpoint did under the load. */
export interface EndpointFigures {
  perSecond: number;
  /** Per request, ms: sent to answer read. */
  latencies: number[];
  /** CPU the serving process spent per event, ms (user + system, from /proc): robust to other load. */
  cpuMsPerEvent: number;
}

export interface IngestFigures {
  events: number;
  concurrency: number;
  withoutWorker: boolean;
  hookflow: EndpointFigures;
  bare: EndpointFigures;
  /** CPU the bench process itself spent per event while loading hookflow (it shares the 2 cores). */
  benchCpuMsPerEvent: number;
  /** 1-minute load average before and after: figures taken under other load differ. */
  load: [number, number];
}

export interface IngestOptions {
  events: number;
  concurrency: number;
  /** Events sent to each endpoint first and not timed (JIT, caches, connections). */
  warmup: number;
  /**
   * Stops the worker before hookflow's load: runs are recorded and started on Temporal but not run,
   * so the figure shows the API without the deliveries competing for the cores (labelled so).
   */
  withoutWorker: boolean;
}

const CLK_TCK = 100;

/** User + system CPU of a process so far, in ms (NaN when unreadable). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * Posts every body to `origin` + `/api/events` through `concurrency` keep-alive connections;
 * `check` throws on an answer that is not an acceptance.
 */
async function load(
  origin: string,
  bodies: readonly string[],
  opts: { concurrency: number; headers: Record<string, string>; pid: number | undefined },
  check: (status: number, text: string) => void,
): Promise<EndpointFigures> {
  const pool = new Pool(origin, { connections: opts.concurrency, pipelining: 1 });
  const latencies = new Array<number>(bodies.length);
  const headers = { 'content-type': 'application/json', ...opts.headers };
  let next = 0;
  const cpu0 = cpuMs(opts.pid);
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: Math.min(opts.concurrency, bodies.length) }, async () => {
        while (next < bodies.length) {
          const i = next++;
          const sent = performance.now();
          const res = await pool.request({ method: 'POST', path: '/api/events', headers, body: bodies[i] });
          const text = await res.body.text();
          latencies[i] = performance.now() - sent;
          check(res.statusCode, text);
        }
      }),
    );
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    perSecond: bodies.length / seconds,
    latencies,
    cpuMsPerEvent: (cpuMs(opts.pid) - cpu0) / bodies.length,
  };
}

/** The same order event as the main benchmark posts, for a profile of its own. */
function eventBodies(metric: string, tag: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify(orderEvent(metric, i, `${tag}-${i}@example.com`, `${tag}-${i}`)),
  );
}

/** Starts bench/bare-ingest-server.js and resolves with it and its origin once it listens. */
function startBare(): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'bare-ingest-server.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (buf: Buffer) => {
      out += buf.toString('utf8');
      const port = /listening (\d+)/.exec(out)?.[1];
      if (port) resolve({ child, origin: `http://127.0.0.1:${port}` });
    });
    child.once('exit', (code) => reject(new Error(`the bare Express server exited (${code})`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * Measures the bare endpoint, then hookflow on `stack` (a live flow posting to `hookUrl` is created
 * here). The bare one goes first so that hookflow's deliveries still in progress cannot slow it.
 */
export async function benchIngest(
  stack: Stack,
  hookUrl: string,
  opts: IngestOptions,
): Promise<IngestFigures> {
  const { events, concurrency, warmup } = opts;
  const tag = `ingest-${Date.now().toString(36)}`;
  const metric = `Bench Ingest ${tag}`;
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: `bench ${tag}`,
    trigger: { type: 'metric', metric },
    status: 'live',
    steps: [{ id: 'hook', type: 'webhook', url: hookUrl, body: '{"seq": {{ event.seq|default:0 }}}' }],
  });
  if (flow.status !== 201) throw new Error(`could not create the flow: ${JSON.stringify(flow.body)}`);
  const load0 = os.loadavg()[0]!;

  const bare = await startBare();
  let bareFigures: EndpointFigures;
  try {
    const bodies = eventBodies(metric, `${tag}-bare`, warmup + events);
    const accepted = (status: number) => {
      if (status !== 202) throw new Error(`the bare endpoint answered ${status}`);
    };
    const o = { concurrency, headers: {}, pid: bare.child.pid };
    await load(bare.origin, bodies.slice(0, warmup), o, accepted);
    bareFigures = await load(bare.origin, bodies.slice(warmup), o, accepted);
  } finally {
    await stopChild(bare.child);
  }

  const bodies = eventBodies(metric, tag, warmup + events);
  const o = {
    concurrency,
    headers: { authorization: `Bearer ${stack.owner!.apiKey}` },
    pid: stack.apiPid,
  };
  // Each event must record exactly one run (the live flow's), or the figure measures something else.
  const recordedOneRun = (status: number, text: string) => {
    if (status !== 202) throw new Error(`POST /api/events answered ${status}: ${text}`);
    const runs = (JSON.parse(text) as { runs?: unknown[] }).runs;
    if (runs?.length !== 1) throw new Error(`an event recorded ${runs?.length ?? 0} runs, not 1: ${text}`);
  };
  await load(stack.apiUrl, bodies.slice(0, warmup), o, recordedOneRun);
  if (opts.withoutWorker) await stack.killWorker();
  const bench0 = process.cpuUsage();
  const hookflow = await load(stack.apiUrl, bodies.slice(warmup), o, recordedOneRun);
  const bench = process.cpuUsage(bench0);
  return {
    events,
    concurrency,
    withoutWorker: opts.withoutWorker,
    hookflow,
    bare: bareFigures,
    benchCpuMsPerEvent: (bench.user + bench.system) / 1000 / events,
    load: [load0, os.loadavg()[0]!],
  };
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

export function printIngest(f: IngestFigures): void {
  const ms = (v: number[]) =>
    `${fmt(percentile(v, 50))} / ${fmt(percentile(v, 95))} / ${fmt(percentile(v, 99))}`;
  const row = (label: string, e: EndpointFigures) =>
    console.log(
      `  ${label.padEnd(14)} ${fmt(e.perSecond).padStart(9)}  ${ms(e.latencies).padStart(22)}  ${fmt(e.cpuMsPerEvent, 2).padStart(8)}`,
    );
  console.log('');
  console.log(
    `events accepted (POST /api/events, ${f.events} events, ${f.concurrency} keep-alive connections, closed loop)`,
  );
  console.log('  endpoint        events/s  p50 / p95 / p99 ms      CPU ms/event (server process)');
  row('hookflow', f.hookflow);
  row('bare Express', f.bare);
  console.log(
    `  ratio hookflow / bare    ${fmt(f.hookflow.perSecond / f.bare.perSecond, 2)} events/s, ${fmt(f.bare.cpuMsPerEvent / f.hookflow.cpuMsPerEvent, 2)} CPU per event`,
  );
  console.log(
    f.withoutWorker
      ? '  ISOLATED: worker stopped; each event records one run, started on Temporal but not run'
      : '  worker running: each event records one run, which starts and delivers during the load',
  );
  console.log(
    `  (the bench process spent ${fmt(f.benchCpuMsPerEvent, 2)} CPU ms/event; load average ${fmt(f.load[0], 2)} → ${fmt(f.load[1], 2)})`,
  );
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number`);
  return v;
}

/** `--ingest-events N --ingest-concurrency C --ingest-warmup W`, shared with bench/bench.ts. */
export function ingestOptions(): IngestOptions {
  return {
    events: arg('ingest-events', 5000),
    concurrency: Math.max(1, arg('ingest-concurrency', 16)),
    warmup: arg('ingest-warmup', 500),
    withoutWorker: process.argv.includes('--ingest-without-worker'),
  };
}

/** `make bench-ingest`: the stack, a receiver for the flow's deliveries, the measurement. */
async function main(): Promise<void> {
  const opts = ingestOptions();
  const pki = createTestPki();
  const receiver = await Receiver.start(pki.good);
  console.log('starting the stack (Temporal dev server, worker, API)...');
  const stack = await Stack.start({ name: 'bench-ingest', caCert: pki.caCert, env: { LOG_LEVEL: 'info' } });
  try {
    printIngest(await benchIngest(stack, receiver.url('/bench-ingest'), opts));
  } finally {
    await stack.stop();
    await receiver.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
