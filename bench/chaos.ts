import { createTestPki } from '../test/harness/certs';
import { TestCluster } from '../test/harness/cluster';
import { Stack } from '../test/harness/stack';
import { ChaosReceiver } from './chaos-receiver';
import type { ChaosOptions, ChaosRow, ScenarioName } from './chaos-scenarios';
import {
  CHAOS_ENV,
  CLUSTER_SCENARIOS,
  DEFAULT_OPTIONS,
  formatTable,
  rowProblems,
  runScenario,
  SCENARIOS,
} from './chaos-scenarios';

/**
 * `make chaos [ARGS="--events N --concurrency C --outage S --lock S --temporal-down S --only a,b --cluster"]`:
 * the fault suite (bench/chaos-scenarios.ts) on one real stack (Temporal dev server, worker, API
 * on SQLite, an HTTPS receiver); with `--cluster`, the Temporal server and hookflow on PostgreSQL
 * (test/harness/cluster.ts) and the cluster's scenarios. Prints a row per scenario, then the table; exits 1 when an
 * accepted event was not delivered, a delivery is counted wrong, or a run is stuck.
 */

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

function scenariosArg(known: readonly ScenarioName[]): ScenarioName[] {
  const i = process.argv.indexOf('--only');
  if (i < 0) return [...known];
  const names = (process.argv[i + 1] ?? '').split(',');
  const unknown = names.filter((n) => !(known as readonly string[]).includes(n));
  if (unknown.length)
    throw new Error(`--only: unknown scenario ${unknown.join(', ')}; known: ${known.join(', ')}`);
  return names as ScenarioName[];
}

async function main(): Promise<void> {
  const options: ChaosOptions = {
    events: numberArg('events', DEFAULT_OPTIONS.events),
    concurrency: numberArg('concurrency', DEFAULT_OPTIONS.concurrency),
    outageMs: numberArg('outage', DEFAULT_OPTIONS.outageMs / 1000) * 1000,
    lockMs: numberArg('lock', DEFAULT_OPTIONS.lockMs / 1000) * 1000,
    temporalDownMs: numberArg('temporal-down', DEFAULT_OPTIONS.temporalDownMs / 1000) * 1000,
    drainTimeoutMs: numberArg('drain-timeout', DEFAULT_OPTIONS.drainTimeoutMs / 1000) * 1000,
  };
  const onCluster = process.argv.includes('--cluster');
  const scenarios = scenariosArg(onCluster ? CLUSTER_SCENARIOS : SCENARIOS);
  const pki = createTestPki();
  const receiver = await ChaosReceiver.start(pki.good);
  let cluster: TestCluster | undefined;
  if (onCluster) {
    console.log('starting the cluster (PostgreSQL, the Temporal server)...');
    cluster = await TestCluster.start({ name: 'chaos', durable: true });
  }
  console.log('starting the stack (worker, API)...');
  const stack = await Stack.start({
    name: 'chaos',
    caCert: pki.caCert,
    env: { ...CHAOS_ENV, ...(cluster ? { HOOKFLOW_DATABASE_URL: cluster.databaseUrl('hookflow') } : {}) },
    ...(cluster ? { temporal: { address: cluster.address, namespace: cluster.namespace } } : {}),
  });
  const rows: ChaosRow[] = [];
  let failed = false;
  try {
    for (const name of scenarios) {
      const row = await runScenario(
        name,
        stack,
        receiver,
        options,
        (line) => console.log(`  ${line}`),
        cluster,
      );
      rows.push(row);
      const problems = rowProblems(row);
      if (problems.length) failed = true;
      console.log(formatTable([row]).split('\n')[2]);
      if (problems.length) console.log(`  FAILED: ${problems.join('; ')}`);
    }
  } finally {
    await stack.stop();
    await cluster?.stop();
    await receiver.close();
  }
  const [load1] = (await import('node:os')).loadavg();
  console.log(`\n${formatTable(rows)}\n\nload average (1 min) at the end: ${load1!.toFixed(2)}`);
  if (failed) {
    console.log('chaos: FAILED (see the rows above)');
    process.exitCode = 1;
  } else console.log('chaos: every accepted event delivered, counted right, nothing stuck');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
