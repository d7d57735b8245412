import { startPostgres } from '../src/cluster/postgres';
import { createTestPki } from '../test/harness/certs';
import { ensureFuzzVenv, formatFuzzSummary, fuzzPassed, runFuzz, seedSecrets } from '../test/harness/fuzz';
import { Receiver } from '../test/harness/receiver';
import { Stack } from '../test/harness/stack';

/**
 * `make fuzz` (issue 17 §2): schemathesis against the real stack's `/api/openapi.json` with an
 * owner's API key, at least `--requests` generated requests (10,000 by default) over every
 * operation; exits 1 on any 5xx, any answer that does not match its documented status, content type
 * or schema, or any answer containing a secret seeded before the run.
 * `make fuzz ARGS="--requests 500 --phases examples,fuzzing,stateful"` for a short run (the coverage
 * phase alone sends some 4,700 requests); `ARGS="--db postgres"` on PostgreSQL.
 */
function requestsArg(): number {
  const i = process.argv.indexOf('--requests');
  const value = i >= 0 ? Number(process.argv[i + 1]) : 10_000;
  if (!Number.isInteger(value) || value < 1) throw new Error('--requests takes a whole number of requests');
  return value;
}

const PHASES = ['examples', 'coverage', 'fuzzing', 'stateful'] as const;

/** `--phases fuzzing,stateful`: schemathesis's phases to run (all four by default). */
function phasesArg(): (typeof PHASES)[number][] {
  const i = process.argv.indexOf('--phases');
  if (i < 0) return [...PHASES];
  const asked = (process.argv[i + 1] ?? '').split(',');
  const unknown = asked.filter((p) => !(PHASES as readonly string[]).includes(p));
  if (unknown.length > 0 || asked.length === 0)
    throw new Error(`--phases takes a comma-separated list of ${PHASES.join(', ')}`);
  return asked as (typeof PHASES)[number][];
}

/** `--checks all` explores with every schemathesis check; the pass condition is FUZZ_CHECKS (test/harness/fuzz.ts). */
function checksArg(): string[] | undefined {
  const i = process.argv.indexOf('--checks');
  return i < 0 ? undefined : [...(process.argv[i + 1] ?? '').split(','), 'no_secret_leak'];
}

async function main(): Promise<void> {
  const requests = requestsArg();
  const phases = phasesArg();
  // Before the stack: creating the venv blocks for a while.
  ensureFuzzVenv({ log: (l) => console.log(l) });
  // `--db postgres`: hookflow's database on a throwaway PostgreSQL cluster (it refuses some input
  // SQLite takes, such as NUL characters and integers past 32 bits).
  const cluster =
    process.argv.includes('--db') && process.argv[process.argv.indexOf('--db') + 1] === 'postgres'
      ? await startPostgres()
      : undefined;
  if (cluster) await cluster.createDatabase('hookflow_fuzz');
  const pki = createTestPki();
  const receiver = await Receiver.start(pki.good);
  console.log(
    `starting the stack (Temporal dev server, worker, API; ${cluster ? 'PostgreSQL' : 'SQLite'})...`,
  );
  const stack = await Stack.start({
    name: 'fuzz',
    caCert: pki.caCert,
    env: { LOG_LEVEL: 'info', ...(cluster ? { HOOKFLOW_DATABASE_URL: cluster.url('hookflow_fuzz') } : {}) },
  });
  let passed = false;
  try {
    const secrets = await seedSecrets(stack, receiver);
    const result = await runFuzz(stack, {
      requests,
      phases,
      checks: checksArg(),
      secrets,
      name: 'make-fuzz',
      log: (l) => console.log(l),
    });
    console.log(formatFuzzSummary(result));
    passed = fuzzPassed(result);
  } finally {
    await stack.stop();
    await receiver.close();
    await cluster?.stop();
  }
  process.exit(passed ? 0 : 1);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
