// Test and benchmark support: real processes and real TLS endpoints on loopback. Not part of the build of the API or worker.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { currentTotp } from '../../src/auth/totp';
import type { Db } from '../../src/db';
import { openDatabase } from '../../src/db';
import { createTestPostgresDatabase } from '../support/databases';
import { DevServer, temporalCliPath } from '../../src/temporal/dev-server';
import type { EncryptionCodec } from '../../src/temporal/payload-codec';
import { createPayloadCodec } from '../../src/temporal/payload-codec';
import { freePort } from '../../src/temporal/ports';
import { API_NODE_FLAGS } from '../../src/api/node-flags';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../../src/worker/node-flags';

/** The repository root: the nearest folder up with package.json (from test/ under jest, or a bench build). */
function repositoryRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

export const ROOT = repositoryRoot();
const DIST = path.join(ROOT, 'dist');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** Retry intervals short enough for tests; the code paths are the production ones. */
export const FAST_RETRY_ENV: Record<string, string> = {
  HOOKFLOW_RETRY_MAX_ATTEMPTS: '3',
  HOOKFLOW_RETRY_INITIAL_INTERVAL_MS: '200',
  HOOKFLOW_RETRY_BACKOFF_COEFFICIENT: '2',
  HOOKFLOW_RETRY_MAX_INTERVAL_MS: '1000',
  HOOKFLOW_WEBHOOK_TIMEOUT_MS: '1500',
  // The test endpoints listen on loopback, on ports the kernel picks.
  HOOKFLOW_OUTBOUND_ALLOW: '127.0.0.1',
  HOOKFLOW_OUTBOUND_PORTS: '*',
};

export interface StackOptions {
  /** A name for the log files under test-artifacts/. */
  name: string;
  /** PEM of the CA the worker trusts (written to a file for NODE_EXTRA_CA_CERTS). */
  caCert?: string;
  env?: Record<string, string>;
  /**
   * `owner` (default): the stack creates an owner from config, signs in, turns on two-step
   * authentication with a real code and creates an all-scope API key, which `request()` sends.
   * `none`: no user; the test creates its own.
   */
  auth?: 'owner' | 'none';
  /** A running Temporal server to use instead of starting a dev server (test/harness/cluster.ts). */
  temporal?: { address: string; namespace: string };
  /** Worker processes. @default 1 */
  workers?: number;
  /**
   * The API runs a worker in its process (`dist/host/api.js`, HOOKFLOW_API_WORKER=true), started
   * with the worker's Node flags; `workers: 0` leaves it the only one.
   */
  apiWorker?: boolean;
  /**
   * Records method, path, status and body of every `request`/`requestAs` answer, one JSON line
   * each, in test-artifacts/responses/<name>.jsonl (read back with {@link Stack.recorded}).
   */
  record?: boolean;
  /** Starts the dev server's Web UI (on a free port) with the API's codec endpoint configured. */
  ui?: boolean;
}

/** One API answer as `record: true` keeps it. */
export interface RecordedResponse {
  method: string;
  path: string;
  status: number;
  contentType: string | null;
  body: unknown;
}

/** The owner a stack signs in as: a session (for pages), its TOTP secret and an all-scope key. */
export interface StackOwner {
  email: string;
  password: string;
  totpSecret: string;
  /** Unused one-time recovery codes (tests take them with `shift()`). */
  recoveryCodes: string[];
  session: { token: string; csrf: string };
  apiKey: string;
}

/**
 * The real stack on loopback: a Temporal dev server on free ports with a temporary database, the
 * compiled worker and API as child processes (so they can be killed), their logs captured.
 */
export class Stack {
  private readonly workers: (ChildProcess | undefined)[] = [];
  private api?: ChildProcess;
  private readonly output: string[] = [];
  readonly taskQueue: string;
  /** Set when the stack was started with `auth: 'owner'`. */
  owner?: StackOwner;
  /** The worker's `/metrics` URLs (hookflow's and the Temporal SDK's), from its start-up log line. */
  workerMetricsUrl?: string;
  temporalMetricsUrl?: string;
  private recordFile?: string;

  private constructor(
    readonly name: string,
    readonly dir: string,
    private devServer: DevServer | undefined,
    readonly apiUrl: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.taskQueue = env.HOOKFLOW_TASK_QUEUE!;
  }

  /** Whether this stack started its own dev server (else it runs on an external Temporal). */
  get hasDevServer(): boolean {
    return this.devServer !== undefined;
  }

  /** The dev server this stack started; a stack on an external server has none. */
  get server(): DevServer {
    if (!this.devServer)
      throw new Error(`stack ${this.name} runs on ${this.temporalAddress}, not a dev server`);
    return this.devServer;
  }

  /**
   * Stops the stack's Temporal dev server (as an outage would); {@link startTemporal} brings it back
   * on the same port with the same database file, so runs and history survive.
   */
  async stopTemporal(): Promise<void> {
    await this.server.stop();
  }

  /** Starts the dev server again after {@link stopTemporal}; resolves once its frontend answers. */
  async startTemporal(): Promise<void> {
    const old = this.server;
    if (old.process.exitCode === null && old.process.signalCode === null)
      throw new Error('the Temporal dev server is still running');
    this.devServer = await DevServer.start({
      port: Number(old.address.split(':').pop()),
      dbFile: path.join(this.dir, 'temporal.sqlite'),
      executable: temporalCliPath(process.env, ROOT),
    });
  }

  /** The dev server's Web UI, when started with `ui: true` (its origin is the codec's allowed origin). */
  get uiUrl(): string | undefined {
    return this.devServer?.uiUrl;
  }

  /** The payload codec of the stack's API and worker (their keys), to read what they wrote to Temporal. */
  payloadCodec(): EncryptionCodec {
    return createPayloadCodec({ secretKeys: this.env.HOOKFLOW_SECRET_KEYS, dataDir: this.dir });
  }

  /** The Temporal frontend the worker and API use. */
  get temporalAddress(): string {
    return this.env.TEMPORAL_ADDRESS!;
  }

  get namespace(): string {
    return this.env.TEMPORAL_NAMESPACE!;
  }

  static async start(opts: StackOptions): Promise<Stack> {
    if (!fs.existsSync(path.join(DIST, 'workflow-bundle.js'))) {
      throw new Error('dist/ is missing: run "npm run build" (make test does) before the integration tests');
    }
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hookflow-${opts.name}-`));
    const [temporalPort, apiPort] = [await freePort(), await freePort()];
    const uiPort = opts.ui ? await freePort() : undefined;
    // The CLI of this repository, also when the harness runs from the benchmark's build (dist-bench/).
    const server = opts.temporal
      ? undefined
      : await DevServer.start({
          port: temporalPort,
          dbFile: path.join(dir, 'temporal.sqlite'),
          executable: temporalCliPath(process.env, ROOT),
          uiPort,
          codecEndpoint: `http://127.0.0.1:${apiPort}/codec`,
        });
    // HOOKFLOW_TEST_DB=postgres (the second pass of `npm test`): a database of its own in the run's cluster.
    const databaseUrl =
      process.env.HOOKFLOW_TEST_DB === 'postgres' ? await createTestPostgresDatabase(opts.name) : undefined;
    const owner =
      (opts.auth ?? 'owner') === 'owner'
        ? { email: 'owner@hookflow.test', password: crypto.randomBytes(12).toString('base64url') }
        : undefined;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOOKFLOW_DATA_DIR: dir,
      TEMPORAL_ADDRESS: opts.temporal?.address ?? server!.address,
      TEMPORAL_NAMESPACE: opts.temporal?.namespace ?? 'default',
      HOOKFLOW_TASK_QUEUE: `hookflow-${opts.name}-${process.pid}`,
      HOOKFLOW_API_HOST: '127.0.0.1',
      HOOKFLOW_API_PORT: String(apiPort),
      TEMPORAL_UI_URL: server?.uiUrl ?? 'http://127.0.0.1:8233',
      LOG_LEVEL: 'debug',
      // Free ports the worker picks and logs (suites on one machine never collide).
      HOOKFLOW_METRICS_HOST: '127.0.0.1',
      HOOKFLOW_WORKER_METRICS_PORT: '0',
      HOOKFLOW_TEMPORAL_METRICS_PORT: '0',
      ...FAST_RETRY_ENV,
      ...(databaseUrl ? { HOOKFLOW_DATABASE_URL: databaseUrl } : {}),
      ...(owner ? { HOOKFLOW_OWNER_EMAIL: owner.email, HOOKFLOW_OWNER_PASSWORD: owner.password } : {}),
      ...(opts.apiWorker ? { HOOKFLOW_API_WORKER: 'true' } : {}),
      ...opts.env,
    };
    if (opts.caCert) {
      const caFile = path.join(dir, 'ca.pem');
      fs.writeFileSync(caFile, opts.caCert);
      env.NODE_EXTRA_CA_CERTS = caFile;
    }
    const stack = new Stack(opts.name, dir, server, `http://127.0.0.1:${apiPort}`, env);
    if (opts.record) {
      const recordDir = path.join(ARTIFACTS, 'responses');
      fs.mkdirSync(recordDir, { recursive: true });
      stack.recordFile = path.join(recordDir, `${opts.name}.jsonl`);
      fs.writeFileSync(stack.recordFile, '');
    }
    try {
      const workers = Array.from({ length: opts.workers ?? 1 }, (_, i) => stack.startWorker(i));
      await Promise.all([...workers, stack.startApi()]);
      if (owner) stack.owner = await stack.signInOwner(owner);
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  /** The stack's database (SQLite file or PostgreSQL), opened from the test process. */
  openDatabase(): Promise<Db> {
    const url = this.env.HOOKFLOW_DATABASE_URL;
    return openDatabase(
      url ? { kind: 'postgres', url, poolSize: 2 } : path.join(this.dir, 'hookflow.sqlite'),
    );
  }

  get workerPid(): number | undefined {
    return this.workers[0]?.pid;
  }

  /** The API process's pid (for CPU and memory figures in benchmarks). */
  get apiPid(): number | undefined {
    return this.api?.pid;
  }

  /** The pid of each worker process, by index (undefined once killed). */
  get workerPids(): (number | undefined)[] {
    return this.workers.map((w) => (w && w.exitCode === null && w.signalCode === null ? w.pid : undefined));
  }

  /** Everything the worker and the API wrote, for assertions on logs. */
  get logs(): string {
    return this.output.join('');
  }

  private spawnNode(
    role: string,
    script: string,
    readyText: string,
    flags: readonly string[] = [],
    defaults: Readonly<Record<string, string>> = {},
  ): Promise<ChildProcess> {
    const child = spawn(process.execPath, [...flags, path.join(DIST, script)], {
      env: { ...defaults, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logFile = path.join(ARTIFACTS, `${this.name}-${role}.log`);
    return new Promise((resolve, reject) => {
      let ready = false;
      let own = '';
      const onData = (buf: Buffer) => {
        const text = buf.toString('utf8');
        this.output.push(text);
        fs.appendFileSync(logFile, text);
        own += text;
        if (!ready && own.includes(readyText)) {
          ready = true;
          resolve(child);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code, signal) => {
        if (!ready)
          reject(new Error(`${role} exited before it was ready (${code ?? signal}); see ${logFile}`));
      });
      setTimeout(() => {
        if (ready) return;
        // Never handed to the stack, so stop() would not reach it: it goes now.
        child.kill('SIGKILL');
        reject(new Error(`${role} not ready after 60 s; see ${logFile}`));
      }, 60_000).unref();
    });
  }

  /** Starts worker process `index` (the first by default), e.g. again after {@link killWorker}. */
  async startWorker(index = 0): Promise<void> {
    const role = index === 0 ? 'worker' : `worker-${index + 1}`;
    const before = this.output.length;
    // Started as every launcher starts it, so memory figures match production.
    this.workers[index] = await this.spawnNode(
      role,
      'worker/main.js',
      '"msg":"worker started"',
      WORKER_NODE_FLAGS,
      WORKER_ENV,
    );
    if (index !== 0) return;
    const started = this.output
      .slice(before)
      .join('')
      .split('\n')
      .find((line) => line.includes('"msg":"worker started"'));
    const fields = started ? (JSON.parse(started) as { metrics?: string; temporalMetrics?: string }) : {};
    this.workerMetricsUrl = fields.metrics;
    this.temporalMetricsUrl = fields.temporalMetrics;
  }

  /**
   * Sends `signal` to the worker (as an orchestrator stopping it would) and resolves with its exit
   * code once it has exited; `second` sends another signal after that many ms.
   */
  async signalWorker(signal: NodeJS.Signals = 'SIGTERM', second?: number): Promise<number | null> {
    const w = this.workers[0];
    if (!w || w.exitCode !== null || w.signalCode !== null) throw new Error('the worker is not running');
    const exited = new Promise<number | null>((resolve) => w.once('exit', (code) => resolve(code)));
    w.kill(signal);
    if (second !== undefined) setTimeout(() => w.exitCode === null && w.kill(signal), second).unref();
    return exited;
  }

  /** Sends `signal` to the API process and resolves with its exit code once it has exited. */
  async signalApi(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const a = this.api;
    if (!a || a.exitCode !== null || a.signalCode !== null) throw new Error('the API is not running');
    const exited = new Promise<number | null>((resolve) => a.once('exit', (code) => resolve(code)));
    a.kill(signal);
    return exited;
  }

  /** Whether the worker process has exited. */
  get workerExited(): boolean {
    const w = this.workers[0];
    return !w || w.exitCode !== null || w.signalCode !== null;
  }

  /** The answers recorded so far (`record: true`). */
  recorded(): RecordedResponse[] {
    if (!this.recordFile) return [];
    return fs
      .readFileSync(this.recordFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as RecordedResponse);
  }

  /** Starts the API process, e.g. again after {@link killApi} (the same port and database). */
  async startApi(): Promise<void> {
    this.api =
      this.env.HOOKFLOW_API_WORKER === 'true'
        ? await this.spawnNode('api', 'host/api.js', '"msg":"API listening"', WORKER_NODE_FLAGS, WORKER_ENV)
        : await this.spawnNode('api', 'api/main.js', '"msg":"API listening"', API_NODE_FLAGS);
  }

  /** Stops the API process (SIGTERM) and starts a new one on the same port and database. */
  async restartApi(): Promise<void> {
    await this.signalApi('SIGTERM');
    await this.startApi();
  }

  /** Kills the API process outright (SIGKILL), as a crash would; resolves once it has exited. */
  async killApi(): Promise<void> {
    const a = this.api;
    if (!a || a.exitCode !== null || a.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      a.once('exit', () => resolve());
      a.kill('SIGKILL');
    });
  }

  /** Kills worker process `index` (the first by default) outright, as a crash would. */
  async killWorker(index = 0): Promise<void> {
    const w = this.workers[index];
    if (!w || w.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      w.kill('SIGKILL');
    });
  }

  /**
   * Signs the owner in (the session is opened before two-step authentication is on, so no second
   * code is needed), turns two-step authentication on with a real code, and creates an API key.
   */
  private async signInOwner(o: { email: string; password: string }): Promise<StackOwner> {
    const must = async <T>(r: Promise<ApiResponse<T>>, what: string): Promise<T> => {
      const res = await r;
      if (res.status >= 300) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const session = await must(
      this.requestAs<{ token: string; csrf: string }>(undefined, 'POST', '/api/auth/sign-in', o),
      'sign-in',
    );
    const setup = await must(
      this.requestAs<{ otpauthUri: string }>(session.token, 'POST', '/api/auth/two-step/setup', {
        password: o.password,
      }),
      'two-step setup',
    );
    const totpSecret = new URL(setup.otpauthUri).searchParams.get('secret')!;
    // Confirming rotates the session: the answer carries the new token and CSRF token.
    const confirmed = await must(
      this.requestAs<{ recoveryCodes: string[]; token: string; csrf: string }>(
        session.token,
        'POST',
        '/api/auth/two-step/confirm',
        { code: currentTotp(totpSecret) },
      ),
      'two-step confirm',
    );
    const { recoveryCodes } = confirmed;
    const key = await must(
      this.requestAs<{ key: string }>(confirmed.token, 'POST', '/api/keys', {
        name: 'test suite',
        scopes: [
          'events:write',
          'flows:read',
          'flows:write',
          'analytics:read',
          'profiles:read',
          'profiles:write',
        ],
      }),
      'API key',
    );
    return {
      ...o,
      totpSecret,
      recoveryCodes,
      session: { token: confirmed.token, csrf: confirmed.csrf },
      apiKey: key.key,
    };
  }

  /** A request as the stack's owner (with its API key), or unauthenticated with `auth: 'none'`. */
  request<T = unknown>(method: string, urlPath: string, body?: unknown): Promise<ApiResponse<T>> {
    return this.requestAs<T>(this.owner?.apiKey, method, urlPath, body);
  }

  /** A request with a bearer token (API key or session token), or none. */
  async requestAs<T = unknown>(
    token: string | undefined,
    method: string,
    urlPath: string,
    body?: unknown,
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.apiUrl}${urlPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const contentType = res.headers.get('content-type');
    const parsed: unknown =
      text && contentType?.includes('json') !== false ? JSON.parse(text) : text || undefined;
    if (this.recordFile) {
      const rec: RecordedResponse = { method, path: urlPath, status: res.status, contentType, body: parsed };
      fs.appendFileSync(this.recordFile, `${JSON.stringify(rec)}\n`);
    }
    return { status: res.status, body: parsed as T };
  }

  async stop(): Promise<void> {
    for (const child of [...this.workers, this.api]) {
      if (child && child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          child.kill('SIGTERM');
        });
      }
    }
    await this.devServer?.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `fn` until `done` accepts its value; fails with the last value after `timeoutMs`. */
export async function poll<T>(
  fn: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 30_000,
  everyMs = 150,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!done(last)) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
    last = await fn();
  }
  return last;
}
