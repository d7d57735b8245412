import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../src/cluster/postgres';
import type { Db } from '../src/db';
import { openDatabase } from '../src/db';
import { DestinationStore } from '../src/db/destination-store';
import type { BreakerSettings, DestinationLimits } from '../src/shared/destination-guard';
import { createTestPki } from '../test/harness/certs';
import { Receiver } from '../test/harness/receiver';
import { Stack } from '../test/harness/stack';
import { orderEvent, percentile, pool } from './stats';

/**
 * `make bench-protection [ARGS="--events N --cycles N --store-only --no-postgres --on-first"]`: what endpoint
 * protection (issue 16) costs per delivery.
 *
 * 1. The store alone, on SQLite (a file) and PostgreSQL: one delivery's slot, taken and given back
 *    (`acquire` then `release`, two short transactions), timed one at a time (p50/p95), then with
 *    16 callers at once (cycles per second), the limits high enough never to make anyone wait.
 * 2. End to end on the real stack (dev server, worker, API, HTTPS receiver): N events to one
 *    endpoint with protection off, then on with its default limits: deliveries per second, and
 *    the latency from event to arrival at light load (one event at a time), with their ratios.
 *
 * Prints figures; asserts nothing. On a shared machine compare the ratios measured in one run.
 */

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const ORIGIN = 'https://bench.example:443';
const OPEN_LIMITS: DestinationLimits = { concurrency: 100_000, ratePerSecond: 0 };
const BREAKER: BreakerSettings = {
  windowMs: 300_000,
  minAttempts: 20,
  failureRatio: 0.9,
  cooldownMs: 60_000,
};
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

async function storeFigures(db: Db, cycles: number) {
  const store = new DestinationStore(db);
  const cycle = async () => {
    const got = await store.acquire(ORIGIN, OPEN_LIMITS, 25_000);
    if (!('lease' in got)) throw new Error(`no slot: ${got.reason}`);
    await store.release(got.lease, { failed: false, probe: false, reason: 'HTTP 200' }, BREAKER);
  };
  await cycle(); // creates the destination's row
  const serial: number[] = [];
  for (let i = 0; i < cycles; i++) {
    const t = performance.now();
    await cycle();
    serial.push(performance.now() - t);
  }
  const t0 = performance.now();
  await pool(cycles, 16, cycle);
  const perSecond = cycles / ((performance.now() - t0) / 1000);
  return { p50: percentile(serial, 50), p95: percentile(serial, 95), perSecond };
}

async function benchStore(cycles: number, withPostgres: boolean): Promise<void> {
  console.log(`destination store: ${cycles} slots taken and given back (acquire + release)`);
  console.log('  database      one at a time p50 / p95 ms    16 at once, cycles/s');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-bench-protection-'));
  const sqlite = await openDatabase(path.join(dir, 'bench.sqlite'));
  try {
    const f = await storeFigures(sqlite, cycles);
    console.log(
      `  SQLite        ${fmt(f.p50, 2)} / ${fmt(f.p95, 2)}                  ${fmt(f.perSecond, 0)}`,
    );
  } finally {
    await sqlite.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (!withPostgres) return;
  const cluster = await startPostgres();
  try {
    await cluster.createDatabase('bench');
    const pg = await openDatabase({ kind: 'postgres', url: cluster.url('bench'), poolSize: 16 });
    try {
      const f = await storeFigures(pg, cycles);
      console.log(
        `  PostgreSQL    ${fmt(f.p50, 2)} / ${fmt(f.p95, 2)}                  ${fmt(f.perSecond, 0)}`,
      );
    } finally {
      await pg.destroy();
    }
  } finally {
    await cluster.stop();
  }
}

interface EndToEnd {
  perSecond: number;
  lightP50: number;
  lightP95: number;
}

/** N events to one endpoint, 16 posts in flight, then 40 one at a time for the light-load latency. */
async function endToEnd(protection: 'on' | 'off', events: number, receiver: Receiver, caCert: string) {
  const stack = await Stack.start({
    name: `bench-protection-${protection}`,
    caCert,
    env: { LOG_LEVEL: 'info', HOOKFLOW_DESTINATION_PROTECTION: protection },
  });
  try {
    const metric = `Bench Protection ${protection}`;
    const hookPath = `/protection-${protection}`;
    const flow = await stack.request('POST', '/api/flows', {
      name: `bench protection ${protection}`,
      trigger: { type: 'metric', metric },
      status: 'live',
      steps: [
        {
          id: 'hook',
          type: 'webhook',
          url: receiver.url(hookPath),
          body: '{"seq": {{ event.seq|default:0 }}, "email": "{{ person.email }}", "total": {{ event.value }}}',
        },
      ],
    });
    if (flow.status !== 201) throw new Error(`could not create the flow: ${JSON.stringify(flow.body)}`);
    const arrived = (n: number) => receiver.received(hookPath).length >= n;
    const waitFor = async (n: number) => {
      const deadline = Date.now() + 10 * 60_000;
      while (!arrived(n)) {
        if (Date.now() > deadline)
          throw new Error(`only ${receiver.received(hookPath).length} of ${n} arrived`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const post = async (seq: number) => {
      const res = await stack.request(
        'POST',
        '/api/events',
        orderEvent(metric, seq, `p${seq}@example.com`, `bp-${protection}-${seq}`),
      );
      if (res.status !== 202) throw new Error(`event refused: ${res.status}`);
    };
    const t0 = performance.now();
    await pool(events, 16, post);
    await waitFor(events);
    const perSecond = events / ((performance.now() - t0) / 1000);
    const light: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = Date.now();
      await post(events + i);
      await waitFor(events + i + 1);
      light.push(receiver.received(hookPath).at(-1)!.at - t);
    }
    return { perSecond, lightP50: percentile(light, 50), lightP95: percentile(light, 95) } satisfies EndToEnd;
  } finally {
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const cycles = arg('cycles', 2000);
  const events = arg('events', 300);
  await benchStore(cycles, !process.argv.includes('--no-postgres'));
  if (process.argv.includes('--store-only')) return;

  const pki = createTestPki();
  const receiver = await Receiver.start(pki.good);
  try {
    console.log(`\nend to end: ${events} events to one endpoint, protection off then on (default limits)...`);
    // `--on-first` swaps the order, to see how much a figure owes to going first on a busy machine.
    const onFirst = process.argv.includes('--on-first');
    const first = await endToEnd(onFirst ? 'on' : 'off', events, receiver, pki.caCert);
    const second = await endToEnd(onFirst ? 'off' : 'on', events, receiver, pki.caCert);
    const [off, on] = onFirst ? [second, first] : [first, second];
    console.log('  protection     deliveries/s    light load p50 / p95 ms');
    console.log(
      `  off            ${fmt(off.perSecond)}            ${fmt(off.lightP50, 0)} / ${fmt(off.lightP95, 0)}`,
    );
    console.log(
      `  on             ${fmt(on.perSecond)}            ${fmt(on.lightP50, 0)} / ${fmt(on.lightP95, 0)}`,
    );
    console.log(
      `  on / off       ${fmt(on.perSecond / off.perSecond, 2)}×           p50 ${fmt(on.lightP50 - off.lightP50, 0)} ms more`,
    );
    console.log(
      `  load average   ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await receiver.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
