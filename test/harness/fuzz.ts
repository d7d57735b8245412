// Test and benchmark support: schemathesis against the real stack (issue 17 §2). Not part of the build.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Receiver } from './receiver';
import type { Stack } from './stack';
import { ARTIFACTS, ROOT, poll } from './stack';

const FUZZ_DIR = path.join(ROOT, 'fuzz');
const REQUIREMENTS = path.join(FUZZ_DIR, 'requirements.txt');
/** Created once, reused, rebuilt when fuzz/requirements.txt changes (its hash is kept beside it). */
export const VENV = path.join(ROOT, '.tools', 'fuzz-venv');

/** The checks whose failures fail the run: the pass condition of `make fuzz`. */
export const FUZZ_CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'no_secret_leak',
] as const;

/** Operations for a signed-in user only (users, keys, own account): fuzzed again with the session. */
const SESSION_ONLY = '^/api/(users|keys|auth/(me|password|two-step/))';

/** The fix when `python3 -m venv` cannot work (Debian ships venv apart from python3). */
const VENV_FIX = 'apt-get install -y python3-venv (make test runs the doctor, which installs it)';

export interface VenvOptions {
  log?: (line: string) => void;
  /** @default .tools/fuzz-venv */
  venv?: string;
  /** The interpreter that makes the venv. @default python3 (from PATH) */
  python?: string;
}

/**
 * The schemathesis CLI in `.tools/fuzz-venv`, creating the venv first when it is missing or was
 * made from other requirements. Throws with the fixing command when python3 cannot make a venv.
 */
export function ensureFuzzVenv(opts: VenvOptions = {}): string {
  const { log = () => {}, venv = VENV, python = 'python3' } = opts;
  const st = path.join(venv, 'bin', 'st');
  const stamp = path.join(venv, 'requirements.sha256');
  const wanted = crypto.createHash('sha256').update(fs.readFileSync(REQUIREMENTS)).digest('hex');
  if (fs.existsSync(st) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return st;
  log(`creating ${path.relative(ROOT, venv)} from fuzz/requirements.txt...`);
  fs.rmSync(venv, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(venv), { recursive: true });
  const made = spawnSync(python, ['-m', 'venv', venv], { encoding: 'utf8' });
  if (made.error || made.status !== 0 || !fs.existsSync(path.join(venv, 'bin', 'pip'))) {
    fs.rmSync(venv, { recursive: true, force: true });
    const why = made.error?.message ?? `${made.stderr}${made.stdout}`.trim();
    throw new Error(`${python} -m venv failed (${why || 'no pip in the venv'}); fix: ${VENV_FIX}`);
  }
  const pip = spawnSync(
    path.join(venv, 'bin', 'pip'),
    ['install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (pip.status !== 0 || !fs.existsSync(st)) {
    fs.rmSync(venv, { recursive: true, force: true });
    throw new Error(`pip install -r fuzz/requirements.txt failed:\n${pip.stderr}${pip.stdout}`);
  }
  fs.writeFileSync(stamp, wanted);
  return st;
}

/** Values the stack holds that no answer may contain (the hooks' `no_secret_leak` check). */
export async function seedSecrets(stack: Stack, receiver: Receiver): Promise<string[]> {
  const owner = stack.owner;
  if (!owner) throw new Error('the fuzz stack needs an owner (auth: "owner")');
  const headerValue = `fuzz-header-${crypto.randomBytes(18).toString('base64url')}`;
  const metric = `Fuzz seeded ${process.pid}`;
  const flow = await stack.request<{ id: string; signingSecrets?: { secret: string }[] }>(
    'POST',
    '/api/flows',
    {
      name: 'fuzz: seeded secrets',
      trigger: { type: 'metric', metric },
      status: 'live',
      steps: [
        {
          id: 'notify',
          type: 'webhook',
          url: receiver.url('/fuzz-seeded'),
          headers: { 'X-Fuzz-Token': headerValue },
          body: '{"email": "{{ person.email }}"}',
          signing: true,
        },
      ],
    },
  );
  const signing = flow.body.signingSecrets?.[0]?.secret;
  if (flow.status !== 201 || !signing)
    throw new Error(`seeding a flow: ${flow.status} ${JSON.stringify(flow.body)}`);
  // One delivered run, so that runs, deliveries and attempts have something to answer.
  const event = await stack.request('POST', '/api/events', {
    metric,
    profile: { email: 'fuzz-seed@example.com' },
    properties: {},
  });
  if (event.status !== 202)
    throw new Error(`seeding an event: ${event.status} ${JSON.stringify(event.body)}`);
  await poll(
    () => Promise.resolve(receiver.received('/fuzz-seeded').length),
    (n) => n > 0,
    60_000,
  );
  return [headerValue, signing, owner.apiKey, owner.password, owner.totpSecret, owner.session.token];
}

/** What the hooks counted (fuzz/hooks.py). */
interface HookTally {
  /** Requests per operation (`GET /api/flows/{id}`), every phase and shrinking replay included. */
  requests: Record<string, number>;
  statusClasses: Record<string, number>;
}

/** One kind of failure schemathesis found, from its JSON report (unique failures, not responses). */
export interface FuzzFinding {
  /** The check it belongs to (see {@link checkOf}). */
  check: string;
  title: string;
  code: string;
  count: number;
  operations: string[];
}

export interface FuzzTally extends HookTally {
  findings: FuzzFinding[];
  /** Errors of the run itself (a hook that threw, a network error), by title. */
  errors: { title: string; count: number }[];
}

/** schemathesis's JSON report, the part read here. */
interface StReport {
  failures: { type: string; code: string; title: string; count: number; operations: string[] }[];
  errors: { title: string; count: number }[];
}

/** The check each failure class of schemathesis (the report's `type`) belongs to. */
const CHECK_OF_TYPE: Record<string, (typeof FUZZ_CHECKS)[number]> = {
  ServerError: 'not_a_server_error',
  UndefinedStatusCode: 'status_code_conformance',
  MissingContentType: 'content_type_conformance',
  MalformedMediaType: 'content_type_conformance',
  UndefinedContentType: 'content_type_conformance',
  JsonSchemaError: 'response_schema_conformance',
  MalformedJson: 'response_schema_conformance',
  ContentDeserializationError: 'response_schema_conformance',
  DiscriminatorMismatch: 'response_schema_conformance',
};

/** The check a failure belongs to, from its class and title; `other` for checks outside the pass condition. */
export function checkOf(failure: { type: string; title: string }): string {
  if (failure.title.includes('`no_secret_leak`')) return 'no_secret_leak';
  if (failure.title.startsWith('Server error')) return 'not_a_server_error';
  return CHECK_OF_TYPE[failure.type] ?? 'other';
}

export interface FuzzResult {
  tally: FuzzTally;
  /** Operations in the document; `tally.requests` names the ones reached. */
  operations: string[];
  totalRequests: number;
  rounds: number;
  durationMs: number;
  /** schemathesis's exit code per round (0: no failure). */
  exitCodes: number[];
  /** Where the output of each round went. */
  logFile: string;
}

export interface FuzzOptions {
  /** At least this many requests in all: rounds with new seeds run until it is reached. */
  requests: number;
  /** Values no answer may contain (see {@link seedSecrets}). */
  secrets: string[];
  /**
   * schemathesis phases. @default all four; the coverage phase alone sends thousands of requests
   * (every boundary of every schema), so a short run leaves it out.
   */
  phases?: readonly ('examples' | 'coverage' | 'fuzzing' | 'stateful')[];
  /**
   * schemathesis checks besides the custom `no_secret_leak`, e.g. `all` to explore.
   * @default {@link FUZZ_CHECKS}: the pass condition
   */
  checks?: readonly string[];
  /** A label for the files under test-artifacts/fuzz/. */
  name: string;
  log?: (line: string) => void;
}

/** Operations of the served document, as schemathesis labels them (`GET /api/flows/{id}`). */
async function documentedOperations(stack: Stack): Promise<string[]> {
  const doc = await stack.requestAs<{ paths: Record<string, Record<string, unknown>> }>(
    undefined,
    'GET',
    '/api/openapi.json',
  );
  return Object.entries(doc.body.paths).flatMap(([p, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${p}`),
  );
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Runs schemathesis (every phase: examples, coverage, fuzzing, stateful) against the stack's
 * `/api/openapi.json` as its owner, in rounds of fresh seeds until `requests` were sent.
 */
export async function runFuzz(stack: Stack, opts: FuzzOptions): Promise<FuzzResult> {
  const log = opts.log ?? (() => {});
  const st = ensureFuzzVenv({ log });
  const dir = path.join(ARTIFACTS, 'fuzz');
  fs.mkdirSync(dir, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-fuzz-'));
  const secretsFile = path.join(work, 'secrets.json');
  fs.writeFileSync(secretsFile, JSON.stringify(opts.secrets), { mode: 0o600 });
  const logFile = path.join(dir, `${opts.name}.log`);
  fs.writeFileSync(logFile, '');
  const operations = await documentedOperations(stack);
  const tally: FuzzTally = { requests: {}, statusClasses: {}, findings: [], errors: [] };
  const exitCodes: number[] = [];
  const started = Date.now();
  let total = 0;
  /** One schemathesis run with a fresh seed; adds what it did to the tally, returns the requests sent. */
  const round = async (spec: { token: string; perOperation: number; include?: string }): Promise<number> => {
    const n = exitCodes.length + 1;
    const tallyFile = path.join(work, `tally-${n}.json`);
    const reportFile = path.join(work, `report-${n}.json`);
    const args = [
      'run',
      `${stack.apiUrl}/api/openapi.json`,
      '--url',
      stack.apiUrl,
      '--header',
      `Authorization: Bearer ${spec.token}`,
      ...(spec.include ? ['--include-path-regex', spec.include] : []),
      '--checks',
      (opts.checks ?? FUZZ_CHECKS).join(','),
      '--max-examples',
      String(spec.perOperation),
      '--seed',
      String(crypto.randomInt(2 ** 31)),
      '--workers',
      '1',
      '--request-timeout',
      '20',
      '--suppress-health-check',
      'all',
      '--generation-database',
      'none',
      '--phases',
      (opts.phases ?? ['examples', 'coverage', 'fuzzing', 'stateful']).join(','),
      '--no-color',
      '--continue-on-failure',
      '--report',
      'json',
      '--report-json-path',
      reportFile,
    ];
    log(
      `round ${n}: st run --max-examples ${spec.perOperation}${spec.include ? ` --include-path-regex '${spec.include}' (session)` : ''} ...`,
    );
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(st, args, {
        cwd: work,
        env: {
          ...process.env,
          PYTHONPATH: FUZZ_DIR,
          SCHEMATHESIS_HOOKS: 'hooks',
          HOOKFLOW_FUZZ_SECRETS: secretsFile,
          HOOKFLOW_FUZZ_TALLY: tallyFile,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out = fs.createWriteStream(logFile, { flags: 'a' });
      child.stdout.pipe(out);
      child.stderr.pipe(out);
      child.once('error', reject);
      child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    exitCodes.push(code);
    if (!fs.existsSync(tallyFile))
      throw new Error(`schemathesis wrote no tally (exit ${code}); see ${logFile}`);
    if (!fs.existsSync(reportFile))
      throw new Error(`schemathesis wrote no report (exit ${code}); see ${logFile}`);
    const part = JSON.parse(fs.readFileSync(tallyFile, 'utf8')) as HookTally;
    addCounts(tally.requests, part.requests);
    addCounts(tally.statusClasses, part.statusClasses);
    fs.copyFileSync(reportFile, path.join(dir, `${opts.name}-report-${n}.json`));
    const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as StReport;
    for (const f of report.failures) tally.findings.push({ check: checkOf(f), ...f });
    tally.errors.push(...report.errors);
    const sent = Object.values(part.requests).reduce((a, b) => a + b, 0);
    if (sent === 0) throw new Error(`schemathesis sent no request (exit ${code}); see ${logFile}`);
    log(`round ${n}: ${sent} requests, exit ${code}`);
    return sent;
  };
  const owner = stack.owner!;
  try {
    // As the owner's API key: every operation (those only a signed-in user may call answer 403).
    while (total < opts.requests) {
      // About one request per example and operation; the coverage phase and stateful scenarios add theirs.
      const perOperation = Math.max(1, Math.ceil((opts.requests - total) / operations.length));
      total += await round({ token: owner.apiKey, perOperation });
    }
    // As the owner's session, the operations an API key may not call: users, keys, two-step (not
    // sign-out, which would end the session the round uses).
    total += await round({
      token: owner.session.token,
      perOperation: Math.max(3, Math.ceil(opts.requests / operations.length / 4)),
      include: SESSION_ONLY,
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return {
    tally,
    operations,
    totalRequests: total,
    rounds: exitCodes.length,
    durationMs: Date.now() - started,
    exitCodes,
    logFile,
  };
}

/** Whether the run met the pass condition: no finding, no error, every round clean. */
export function fuzzPassed(result: FuzzResult): boolean {
  const { findings, errors } = result.tally;
  return findings.length === 0 && errors.length === 0 && result.exitCodes.every((c) => c === 0);
}

/** The summary table: operations, requests, status classes, failures by check, each finding. */
export function formatFuzzSummary(result: FuzzResult): string {
  const { tally } = result;
  const reached = result.operations.filter((op) => (tally.requests[op] ?? 0) > 0);
  const byCheck = (check: string) =>
    tally.findings.filter((f) => f.check === check).reduce((n, f) => n + f.count, 0);
  const lines = [
    '',
    'make fuzz: schemathesis against /api/openapi.json as the owner',
    `  operations     ${reached.length} of ${result.operations.length} documented reached`,
    `  requests       ${result.totalRequests} in ${result.rounds} round(s), ${(result.durationMs / 1000).toFixed(1)} s`,
    `  statuses       ${Object.entries(tally.statusClasses)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    '',
    `  ${'check'.padEnd(30)} failures`,
    ...[...FUZZ_CHECKS, 'other'].map((c) => `  ${c.padEnd(30)} ${byCheck(c)}`),
    `  ${'errors (of the run)'.padEnd(30)} ${tally.errors.reduce((n, e) => n + e.count, 0)}`,
  ];
  const unreached = result.operations.filter((op) => !tally.requests[op]);
  if (unreached.length > 0) lines.push('', `  not reached: ${unreached.join(', ')}`);
  for (const f of tally.findings)
    lines.push(`  - [${f.check}] ${f.title} (${f.code}) ×${f.count}: ${f.operations.join(', ')}`);
  for (const e of tally.errors) lines.push(`  - [error] ${e.title} ×${e.count}`);
  lines.push(
    '',
    `  ${fuzzPassed(result) ? 'PASS' : 'FAIL'} (schemathesis output: ${path.relative(ROOT, result.logFile)})`,
  );
  return lines.join('\n');
}
