import fs from 'node:fs';
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import type { Receiver } from '../test/harness/receiver';
import type { Stack } from '../test/harness/stack';
import { peakRssMiB, pool } from './stats';

/**
 * `make bench ARGS="--parked 10000"`: that many runs of a live flow (trigger metric → delay →
 * webhook to the local HTTPS receiver) waiting in the delay at once, posted through the API. It
 * prints the time it took to park them, the worker's RSS while they wait, and how fast they all
 * deliver when the delay ends.
 *
 * A run's delay starts when it starts, and runs start at Temporal's pace (tens per second here),
 * so one fixed delay would wake them at that same pace. To release them together, the bench aims
 * every run at one wake moment: while it posts, it lowers the flow's delay (PATCH, each run keeps
 * the plan it started with) to the seconds left until that moment.
 */

export interface ParkedOptions {
  parked: number;
  concurrency: number;
  /**
   * Seconds from the first post to the common wake moment; every run must be parked by then.
   * @default max(120, parked / 20): 500 s for 10,000 runs, parked at ≥ 20 starts/s
   */
  releaseAfterSeconds?: number;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => fmt(os.loadavg()[0]!, 2);

/** Current resident set size of a process (VmRSS), in MiB; NaN when unreadable. */
export function currentRssMiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * One value of the Temporal SDK's Prometheus metrics (summed over its label sets): 0 when absent
 * (a counter appears at its first increment), NaN when the endpoint does not answer.
 */
async function sdkMetric(url: string | undefined, name: string): Promise<number> {
  if (!url) return NaN;
  try {
    const text = await (await fetch(url)).text();
    const values = text
      .split('\n')
      .filter((l) => l.startsWith(`hookflow_temporal_${name}`) && /^[a-z_]+(\{|\s)/.test(l))
      .filter((l) => l.split(/[{\s]/)[0] === `hookflow_temporal_${name}`)
      .map((l) => Number(l.trim().split(/\s+/).pop()));
    return values.reduce((a, b) => a + b, 0);
  } catch {
    return NaN;
  }
}

/** RSS samples of the worker, by phase. */
class RssSampler {
  readonly samples: { at: number; phase: string; mib: number }[] = [];
  private phase = 'idle';
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number | undefined) {
    this.timer = setInterval(() => this.sample(), 1000);
  }

  enter(phase: string): void {
    this.sample();
    this.phase = phase;
  }

  sample(): number {
    const mib = currentRssMiB(this.pid);
    this.samples.push({ at: Date.now(), phase: this.phase, mib });
    return mib;
  }

  max(phase: string): number {
    return Math.max(...this.samples.filter((s) => s.phase === phase).map((s) => s.mib));
  }

  last(phase: string): number {
    return this.samples.filter((s) => s.phase === phase).at(-1)?.mib ?? NaN;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function progress(label: string, done: number, total: number): void {
  if (done === total || done % Math.max(1, Math.floor(total / 20)) === 0) {
    process.stdout.write(`\r  ${label}: ${done}/${total}   `);
    if (done === total) process.stdout.write('\n');
  }
}

export async function benchParked(stack: Stack, receiver: Receiver, opts: ParkedOptions): Promise<void> {
  const { parked: n, concurrency } = opts;
  const releaseAfter = opts.releaseAfterSeconds ?? Math.max(120, Math.ceil(n / 20));
  const metric = 'Bench Parked';
  const hookPath = '/bench-parked';
  const pid = stack.workerPid;
  const rss = new RssSampler(pid);
  const metricsUrl = stack.temporalMetricsUrl;
  await sleep(3000);
  const idle = rss.sample();
  console.log(`worker RSS idle                  ${fmt(idle)} MiB  (load ${load()})`);

  const steps = (delaySeconds: number) => [
    { id: 'wait', type: 'delay', seconds: delaySeconds },
    {
      id: 'hook',
      type: 'webhook',
      url: receiver.url(hookPath),
      body: '{"seq": {{ event.seq|default:0 }}, "email": "{{ person.email }}"}',
    },
  ];
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'bench parked',
    trigger: { type: 'metric', metric },
    status: 'live',
    steps: steps(releaseAfter),
  });
  if (flow.status !== 201) throw new Error(`could not create the flow: ${JSON.stringify(flow.body)}`);
  const t0 = Date.now();
  const wakeAt = t0 + releaseAfter * 1000;
  console.log(`posting ${n} events; every run wakes ${releaseAfter} s after the first post...`);

  // Re-aims the delay of runs not yet posted at the common wake moment.
  let aimed = releaseAfter;
  let posting = true;
  const aim = (async () => {
    while (posting) {
      await sleep(500);
      const left = Math.max(1, Math.round((wakeAt - Date.now()) / 1000));
      if (left === aimed || !posting) continue;
      const res = await stack.request('PATCH', `/api/flows/${flow.body.id}`, { steps: steps(left) });
      if (res.status !== 200) throw new Error(`could not re-aim the delay: ${JSON.stringify(res.body)}`);
      aimed = left;
    }
  })();

  rss.enter('parking');
  const runIds: string[] = new Array<string>(n);
  let posted = 0;
  try {
    await pool(n, concurrency, async (i) => {
      const res = await stack.request<{ runs: { runId: string }[] }>('POST', '/api/events', {
        metric,
        profile: { email: `parked${i}@example.com` },
        properties: { seq: i },
        unique_id: `bench-parked-${i}`,
      });
      if (res.status !== 202)
        throw new Error(`event ${i} refused: ${res.status} ${JSON.stringify(res.body)}`);
      runIds[i] = res.body.runs[0]!.runId;
      progress('events posted', ++posted, n);
    });
  } finally {
    posting = false;
    await aim;
  }
  const postedAt = Date.now();

  // Parked: Temporal counts every run running, and the last runs posted wait in their delay.
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace: stack.namespace });
  const query = `TaskQueue="${stack.taskQueue}" AND ExecutionStatus="Running"`;
  let running = 0;
  while (Date.now() < wakeAt) {
    running = (await client.workflow.count(query)).count;
    if (running >= n) break;
    await sleep(1000);
  }
  const waiting = async (id: string) => {
    const res = await stack.request<{ steps?: { id: string; status: string }[] }>('GET', `/api/runs/${id}`);
    return res.body.steps?.find((s) => s.id === 'wait')?.status === 'waiting';
  };
  const lastPosted = runIds.slice(-10);
  while (Date.now() < wakeAt && !(await Promise.all(lastPosted.map(waiting))).every(Boolean))
    await sleep(500);
  const parkedAt = Date.now();
  await connection.close();
  const parkSeconds = (parkedAt - t0) / 1000;
  rss.enter('waiting');
  const parkedRss = rss.sample();
  const cached = await sdkMetric(metricsUrl, 'sticky_cache_size');
  console.log(
    `  parked ${running}/${n} runs in ${fmt(parkSeconds)} s (${fmt(n / parkSeconds)} runs/s; posts took ${fmt((postedAt - t0) / 1000)} s), load ${load()}`,
  );
  if (parkedAt >= wakeAt)
    console.log('  NOT all parked before the wake moment: raise --release-after; figures below mix phases');
  console.log(
    `  worker RSS when parked          ${fmt(parkedRss)} MiB  (${fmt(cached, 0)} runs in the sticky cache)`,
  );

  // Wait for the wake moment, sampling the worker's RSS with nothing to do but hold the runs.
  console.log(`waiting ${fmt((wakeAt - Date.now()) / 1000, 0)} s for the wake moment...`);
  let shownAt = Date.now();
  while (Date.now() < wakeAt - 2000) {
    await sleep(Math.min(5000, wakeAt - 2000 - Date.now()));
    if (Date.now() - shownAt >= 30_000) {
      shownAt = Date.now();
      console.log(`  worker RSS while waiting        ${fmt(rss.sample())} MiB  (load ${load()})`);
    }
  }
  const waitingRss = rss.sample();
  const loadWaiting = load();
  const peakBeforeRelease = peakRssMiB(pid, (f) => fs.readFileSync(f, 'utf8'));
  const earlyArrivals = receiver.received(hookPath).length;
  const [hits0, misses0] = [
    await sdkMetric(metricsUrl, 'sticky_cache_hit'),
    await sdkMetric(metricsUrl, 'sticky_cache_miss'),
  ];

  rss.enter('release');
  const deadline = wakeAt + 30 * 60_000;
  let reportedAt = Date.now();
  while (receiver.received(hookPath).length < n && Date.now() < deadline) {
    await sleep(250);
    // A line each 30 s, so a long release can be read (and its rate taken) while it runs.
    if (Date.now() - reportedAt >= 30_000) {
      reportedAt = Date.now();
      const arrived = receiver.received(hookPath).length;
      console.log(
        `  ${arrived}/${n} delivered ${fmt((reportedAt - wakeAt) / 1000, 0)} s after the wake moment; worker RSS ${fmt(rss.sample())} MiB, load ${load()}`,
      );
    }
  }
  rss.stop();
  const arrivals = receiver.received(hookPath).map((r) => r.at);
  progress('deliveries arrived', arrivals.length, n);
  const first = Math.min(...arrivals);
  const last = Math.max(...arrivals);
  const seqs = new Set(receiver.received(hookPath).map((r) => (JSON.parse(r.body) as { seq: number }).seq));
  // Of the release's workflow tasks, those that found their run cached and those that replayed it.
  const hits = (await sdkMetric(metricsUrl, 'sticky_cache_hit')) - hits0;
  const misses = (await sdkMetric(metricsUrl, 'sticky_cache_miss')) - misses0;

  console.log('');
  console.log(`parked runs (${n}, delay → webhook)`);
  console.log(`  time to park                    ${fmt(parkSeconds)} s  (${fmt(n / parkSeconds)} runs/s)`);
  console.log(`  worker RSS idle                 ${fmt(idle)} MiB`);
  console.log(
    `  worker RSS parked (now / max)   ${fmt(waitingRss)} / ${fmt(rss.max('waiting'))} MiB  (load ${loadWaiting})`,
  );
  console.log(`  worker peak RSS before release  ${fmt(peakBeforeRelease)} MiB  (posting included)`);
  console.log(`  worker RSS during release (max) ${fmt(rss.max('release'))} MiB`);
  console.log(
    `  sticky cache when parked        ${fmt(cached, 0)} runs; release hits / misses ${fmt(hits, 0)} / ${fmt(misses, 0)}`,
  );
  console.log(
    `  delivered after the delay       ${seqs.size}/${n}  (${earlyArrivals} arrived before the wake moment)`,
  );
  console.log(
    `  release rate                    ${fmt(arrivals.length / ((last - first) / 1000))} deliveries/s  (first ${fmt((first - wakeAt) / 1000)} s, last ${fmt((last - wakeAt) / 1000)} s after the wake moment)`,
  );
  console.log(`  load average at the end         ${load()}`);
}
