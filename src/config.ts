import path from 'node:path';
import { z } from 'zod';
import type { DatabaseLocation } from './db';
import { ConfigError } from './errors';
import { isKnownTimeZone } from './shared/time-zones';
import type { RetrySettings } from './shared/retry';
import type { BreakerSettings, DestinationLimits } from './shared/destination-guard';
import type { OutboundPolicy } from './webhooks/outbound';
import { parsePolicy } from './webhooks/outbound';

function parseOutbound(allow: string | undefined, ports: string | undefined): OutboundPolicy {
  try {
    return parsePolicy(allow, ports);
  } catch (err) {
    const message = (err as Error).message;
    throw new ConfigError(`invalid configuration: ${message}`, [message]);
  }
}

function isPostgresUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (
      (u.protocol === 'postgres:' || u.protocol === 'postgresql:') &&
      u.hostname !== '' &&
      u.pathname.length > 1
    );
  } catch {
    return false;
  }
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/**
 * Every setting hookflow reads, with its environment variable and default. The README's
 * configuration table is written from this list.
 */
const envSchema = z.object({
  /** Folder for the SQLite database, the Temporal dev server's state and generated keys. @default ".data" */
  HOOKFLOW_DATA_DIR: z.string().min(1).default('.data'),
  /** SQLite database file. @default "<data dir>/hookflow.sqlite" */
  HOOKFLOW_DB_PATH: z.string().min(1).optional(),
  /**
   * A PostgreSQL database instead of the SQLite file: `postgres://user:password@host:5432/hookflow`
   * (the database must exist; hookflow creates its tables). @default unset (SQLite)
   */
  HOOKFLOW_DATABASE_URL: z
    .string()
    .refine(isPostgresUrl, 'must be a postgres:// or postgresql:// URL with a host and a database name')
    .optional(),
  /** PostgreSQL connections each API or worker process keeps at most. @default 10 */
  HOOKFLOW_DATABASE_POOL_SIZE: int(1, 1000).default(10),
  /** Temporal frontend address (host:port). @default "localhost:7233" */
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d+$/, 'expected host:port')
    .default('localhost:7233'),
  /** Temporal namespace. @default "default" */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue the worker polls and the API starts runs on. @default "hookflow" */
  HOOKFLOW_TASK_QUEUE: z.string().min(1).default('hookflow'),
  /**
   * How the Temporal dev server that `make start` runs writes its SQLite file (always in WAL mode):
   * `normal` syncs at checkpoints — a killed process loses nothing, a power cut or OS crash may lose
   * the last moments of run progress (as hookflow's own SQLite file, which uses the same setting);
   * `full` syncs every commit, at about 1.4× the latency per delivery. @default "normal"
   */
  HOOKFLOW_TEMPORAL_SQLITE_SYNC: z.enum(['normal', 'full']).default('normal'),
  /** Base URL of the Temporal Web UI, used for links to runs. @default "http://localhost:8233" */
  TEMPORAL_UI_URL: z.string().url().default('http://localhost:8233'),
  /** Interface the API listens on. @default "127.0.0.1" */
  HOOKFLOW_API_HOST: z.string().min(1).default('127.0.0.1'),
  /** Port the API listens on (0 picks a free port). @default 3000 */
  HOOKFLOW_API_PORT: int(0, 65535).default(3000),
  /**
   * Behind a reverse proxy: which proxies to believe about the client's address and HTTPS (Express
   * `trust proxy`: a hop count, `loopback`, addresses or CIDRs). Sign-in lockouts count per client
   * address and the session cookie is `Secure` over HTTPS, so both need it. @default not trusted
   */
  HOOKFLOW_TRUST_PROXY: z
    .string()
    .regex(
      /^(\d+|true|loopback|linklocal|uniquelocal|[\d.:a-fA-F/]+)(\s*,\s*(loopback|linklocal|uniquelocal|[\d.:a-fA-F/]+))*$/,
      {
        message:
          'must be a hop count, true, loopback, linklocal, uniquelocal, or addresses/CIDRs separated by commas',
      },
    )
    .optional(),
  /** Largest JSON request body the API accepts, in bytes (larger: 413). @default 524288 */
  HOOKFLOW_API_MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(512 * 1024),
  /** Deepest nesting of objects and arrays in a JSON request body (deeper: 400). @default 64 */
  HOOKFLOW_API_MAX_JSON_DEPTH: int(2, 10_000).default(64),
  /** Time a client has to send a request's headers before its connection is closed. @default 10000 */
  HOOKFLOW_API_HEADERS_TIMEOUT_MS: int(1000, 600_000).default(10_000),
  /** Time a client has to send a whole request, headers and body, before its connection is closed. @default 30000 */
  HOOKFLOW_API_REQUEST_TIMEOUT_MS: int(1000, 3_600_000).default(30_000),
  /** How long an idle keep-alive connection stays open between requests. @default 5000 */
  HOOKFLOW_API_KEEP_ALIVE_TIMEOUT_MS: int(100, 600_000).default(5000),
  /**
   * Connections one client address may hold open at once (beyond: 429 and closed); behind a trusted
   * proxy, requests in flight per forwarded client address instead. `0`: no limit. @default 256
   */
  HOOKFLOW_API_MAX_CONNECTIONS_PER_CLIENT: int(0, 1_000_000).default(256),
  /**
   * `true`: the API process also runs a hookflow worker (the same as `dist/worker/main.js`) on the
   * task queue, started as `node dist/host/api.js`; it needs Temporal up to start. @default false
   */
  HOOKFLOW_API_WORKER: z.enum(['true', 'false']).default('false'),
  /**
   * `true`: runs the API starts ask Temporal for eager start, their first workflow task handed to
   * the API's own worker in the start's answer (needs HOOKFLOW_API_WORKER). @default false
   */
  HOOKFLOW_EAGER_START: z.enum(['true', 'false']).default('false'),
  /** Time allowed for one webhook attempt, connect to last byte. @default 10000 */
  HOOKFLOW_WEBHOOK_TIMEOUT_MS: int(100, 300_000).default(10_000),
  /** Bytes of a response body read before it is cut off. @default 65536 */
  HOOKFLOW_WEBHOOK_MAX_RESPONSE_BYTES: int(0, 10 * 1024 * 1024).default(64 * 1024),
  /** Attempts per delivery, the first included (17 retries). @default 18 */
  HOOKFLOW_RETRY_MAX_ATTEMPTS: int(1, 1000).default(18),
  /** Delay before the first retry. @default 30000 */
  HOOKFLOW_RETRY_INITIAL_INTERVAL_MS: int(1).default(30_000),
  /** Growth factor of the delay between retries. @default 2 */
  HOOKFLOW_RETRY_BACKOFF_COEFFICIENT: z.coerce.number().min(1).max(10).default(2),
  /** Longest delay between two retries (2.5 h). @default 9000000 */
  HOOKFLOW_RETRY_MAX_INTERVAL_MS: int(1).default(9_000_000),
  /** Upper bound for a delay asked by a Retry-After header (1 h). @default 3600000 */
  HOOKFLOW_RETRY_AFTER_MAX_MS: int(0).default(3_600_000),
  /**
   * Endpoint protection (per destination: scheme, host and port, shared by every worker): `on`, or
   * `off` to send without limits, holds or circuit breaker. @default "on"
   */
  HOOKFLOW_DESTINATION_PROTECTION: z.enum(['on', 'off']).default('on'),
  /** Requests in flight at once to one destination, over every worker process. @default 32 */
  HOOKFLOW_DESTINATION_CONCURRENCY: int(1, 100_000).default(32),
  /** Requests started per second to one destination (0: unlimited). @default 100 */
  HOOKFLOW_DESTINATION_RATE_PER_SECOND: z.coerce.number().min(0).max(100_000).default(100),
  /**
   * How long an attempt waits in the worker for a slot at its destination before the run waits on
   * a durable timer instead (no retry is used up either way); at most 10000. @default 5000
   */
  HOOKFLOW_DESTINATION_WAIT_MS: int(0, 10_000).default(5000),
  /** The circuit breaker counts failures over this many seconds. @default 300 */
  HOOKFLOW_BREAKER_WINDOW_SECONDS: int(1, 86_400).default(300),
  /** Attempts in the window below which the circuit never opens. @default 20 */
  HOOKFLOW_BREAKER_MIN_ATTEMPTS: int(1, 1_000_000).default(20),
  /** Share of failed attempts in the window, in percent, at which the circuit opens. @default 90 */
  HOOKFLOW_BREAKER_FAILURE_PERCENT: z.coerce.number().min(1).max(100).default(90),
  /** Seconds an open circuit waits before letting one probe through. @default 60 */
  HOOKFLOW_BREAKER_COOLDOWN_SECONDS: z.coerce.number().min(0.1).max(86_400).default(60),
  /**
   * Keys that encrypt webhook header values: "id:base64,id2:base64" (32-byte keys), the first
   * encrypts, all decrypt. Unset: a development key is generated in the data folder.
   */
  HOOKFLOW_SECRET_KEYS: z.string().optional(),
  /**
   * Origins (scheme://host:port, comma-separated) of Temporal Web UIs allowed to call the codec
   * endpoint (`/codec/decode`) from the browser. @default the origin of TEMPORAL_UI_URL
   */
  HOOKFLOW_CODEC_ORIGINS: z
    .string()
    .regex(
      /^\s*https?:\/\/[^\s,/]+\s*(,\s*https?:\/\/[^\s,/]+\s*)*$/,
      'must be origins like http://localhost:8233, comma-separated',
    )
    .optional(),
  /** Seconds a rotated-out webhook signing secret keeps signing beside the new one (24 h). @default 86400 */
  HOOKFLOW_SIGNING_ROTATION_GRACE_SECONDS: int(0, 366 * 86_400).default(86_400),
  /**
   * Networks (CIDRs or addresses) and host names webhooks may reach although they are private,
   * loopback, link-local…: "10.1.0.0/16, crm.internal". @default none
   */
  HOOKFLOW_OUTBOUND_ALLOW: z.string().optional(),
  /** Ports webhooks may use besides 443: "8443, 9443", or "*" for any. @default none */
  HOOKFLOW_OUTBOUND_PORTS: z.string().optional(),
  /** The first owner, created at start when no user exists yet (with HOOKFLOW_OWNER_PASSWORD). */
  HOOKFLOW_OWNER_EMAIL: z.email().optional(),
  /** Password of that first owner; at least 12 characters. */
  HOOKFLOW_OWNER_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  /**
   * How long an API process reuses a verified API key without reading the database, in ms (0:
   * never). Revoking a key, or changing its user's role, two-step or access, takes effect at once
   * in the API process that made the change and within this bound in the others. @default 2000
   */
  HOOKFLOW_API_KEY_CACHE_MS: int(0, 60_000).default(2000),
  /**
   * How long an API process reuses the list of live flows of a metric (and of date flows), in ms
   * (0: read them at every event). A flow saved, paused or deleted through any API process counts
   * for the next event at once (a shared change count is read instead); the bound only covers rows
   * edited by hand in the database. @default 2000
   */
  HOOKFLOW_LIVE_FLOW_CACHE_MS: int(0, 60_000).default(2000),
  /** How often the API starts price-drop fan-outs recorded but not started (runs: the run starter). @default 30 */
  HOOKFLOW_RUN_SWEEP_SECONDS: int(1, 86_400).default(30),
  /**
   * Runs recorded but not yet started on Temporal (Temporal down or slow) beyond which the API
   * refuses events and other run-starting changes with 503 and `Retry-After`. @default 50000
   */
  HOOKFLOW_RUN_BACKLOG_MAX: int(1).default(50_000),
  /** How often each API process's run starter takes over runs whose claim lapsed. @default 1000 */
  HOOKFLOW_RUN_STARTER_POLL_MS: int(50, 600_000).default(1000),
  /** Workflow starts in flight at once per process. @default 16 */
  HOOKFLOW_RUN_STARTER_CONCURRENCY: int(1, 256).default(16),
  /** How long a process's claim on a queued run lasts without renewal (a killed process's runs wait this long). @default 30 */
  HOOKFLOW_RUN_STARTER_LEASE_SECONDS: int(1, 3600).default(30),
  /** Time zone of profiles without `location.timezone` (date-property flows), an IANA name. @default "UTC" */
  HOOKFLOW_DEFAULT_TIMEZONE: z
    .string()
    .refine((tz) => isKnownTimeZone(tz), 'must be an IANA time zone such as "Europe/Paris"')
    .default('UTC'),
  /** How often the Temporal Schedule of each live date-property flow sweeps for due profiles. @default 60 */
  HOOKFLOW_DATE_SWEEP_SECONDS: int(1, 86_400).default(60),
  /**
   * Seconds a stopping worker lets in-flight activities finish (then cancels them), and a stopping
   * API lets in-flight requests finish. @default 30
   */
  HOOKFLOW_SHUTDOWN_GRACE_SECONDS: int(0, 3600).default(30),
  /** Interface the worker's metrics endpoints listen on. @default "127.0.0.1" */
  HOOKFLOW_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Port of the worker's Prometheus `/metrics` (hookflow's own metrics). Unset: off; `0`: a free
   * port, logged at start (several workers on one host each need their own). @default off
   */
  HOOKFLOW_WORKER_METRICS_PORT: int(0, 65535).optional(),
  /**
   * Port of the Temporal SDK's Prometheus `/metrics` in the worker (pollers, task slots, schedule
   * to start latency). Unset: off; `0`: a free port, logged at start. @default off
   */
  HOOKFLOW_TEMPORAL_METRICS_PORT: int(0, 65535).optional(),
  /**
   * Runs the worker keeps in memory between their workflow tasks (the Temporal SDK's sticky cache,
   * `maxCachedWorkflows`). A cached run continues without replaying its history; an evicted one
   * (a run parked in a long delay, say) replays it when it wakes, which costs a little CPU, not
   * correctness. Each cached run costs about 160 KiB of worker memory (README "Worker memory").
   * `0` turns the cache off. @default 250
   */
  HOOKFLOW_WORKER_CACHED_WORKFLOWS: int(0, 1_000_000)
    .refine((n) => n !== 1, 'must be 0 (no cache) or at least 2, as the Temporal SDK requires')
    .default(250),
  /**
   * Threads the worker renders webhook bodies on, each with its own JavaScript heap (about 12 MiB
   * idle); none starts before a template needs one (most render on the worker's own thread). @default 1
   */
  HOOKFLOW_RENDER_THREADS: int(1, 64).default(1),
  /** pino log level. @default "info" */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Endpoint protection: limits per destination, the breaker, and how long an attempt waits in process. */
export interface ProtectionSettings {
  limits: DestinationLimits;
  breaker: BreakerSettings;
  /** ms an attempt waits in the worker for a slot before its run waits on a durable timer. */
  waitMs: number;
}

/** The retry policy of webhook steps that set none of their own. */
export type RetryDefaults = RetrySettings;

export interface Config {
  dataDir: string;
  /** The SQLite file; used when {@link Config.database} is SQLite. */
  dbPath: string;
  /** The database the API and the worker open: PostgreSQL when HOOKFLOW_DATABASE_URL is set. */
  database: DatabaseLocation;
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    uiUrl: string;
    /** The dev server's SQLite sync mode (`make start`). */
    sqliteSync: 'normal' | 'full';
  };
  api: {
    host: string;
    port: number;
    trustProxy: boolean | number | string;
    /** ms a verified API key is reused without a database read (0: never). */
    keyCacheMs: number;
    /** ms the live flows of a metric are reused without a database read (0: never). */
    liveFlowCacheMs: number;
    /** JSON request bodies: bytes and nesting depth. */
    body: { maxBytes: number; maxDepth: number };
    /** Slow and greedy clients: the HTTP server's timeouts and connections per client address. */
    server: {
      headersTimeoutMs: number;
      requestTimeoutMs: number;
      keepAliveTimeoutMs: number;
      maxConnectionsPerClient: number;
    };
    /** The API process runs a hookflow worker too (`node dist/host/api.js`). */
    hostsWorker: boolean;
    /** Flow runs the API starts ask for eager start on its own worker (needs {@link hostsWorker}). */
    eagerStart: boolean;
  };
  webhook: {
    timeoutMs: number;
    maxResponseBytes: number;
    retryAfterMaxMs: number;
    retry: RetryDefaults;
    /** Seconds a rotated-out signing secret keeps signing. */
    signingGraceSeconds: number;
    /** Endpoint protection per destination (issue 16); `undefined` when turned off. */
    protection: ProtectionSettings | undefined;
  };
  secretKeys: string | undefined;
  /** Web UI origins the codec endpoint answers cross-origin (CORS). */
  codec: { origins: string[] };
  outbound: OutboundPolicy;
  owner: { email: string; password: string } | undefined;
  /** Seconds between sweeps of the price-drop fan-out outbox. */
  runSweepSeconds: number;
  /** Runs waiting for Temporal at which run-starting requests are refused (503). */
  runBacklogMax: number;
  /** The run starter: poll interval, starts in flight, claim lease. */
  runStarter: { pollMs: number; concurrency: number; leaseMs: number };
  /** Date-property flows: the zone of profiles without one, and seconds between their sweeps. */
  dates: { defaultTimezone: string; sweepSeconds: number };
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /** Seconds a stopping process gives work in flight. */
  shutdownGraceSeconds: number;
  /** Worker metrics endpoints: a port each (`0` a free one), `undefined` when off. */
  metrics: { host: string; workerPort: number | undefined; temporalPort: number | undefined };
  /** The worker's memory: runs kept in the SDK's sticky cache, threads rendering templates. */
  worker: { cachedWorkflows: number; renderThreads: number };
}

/** Reads and validates the configuration; throws a {@link ConfigError} naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means unset (compose files pass `${VAR:-}` through as an empty string).
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, problems);
  }
  const e = parsed.data;
  // The poll renews the starter's claims: a lease shorter than three polls could lapse under it.
  if (e.HOOKFLOW_RUN_STARTER_LEASE_SECONDS * 1000 < 3 * e.HOOKFLOW_RUN_STARTER_POLL_MS) {
    const problem =
      'HOOKFLOW_RUN_STARTER_LEASE_SECONDS: must last at least three HOOKFLOW_RUN_STARTER_POLL_MS intervals';
    throw new ConfigError(`invalid configuration: ${problem}`, [problem]);
  }
  // Node refuses a header timeout longer than the whole-request timeout.
  if (e.HOOKFLOW_API_HEADERS_TIMEOUT_MS > e.HOOKFLOW_API_REQUEST_TIMEOUT_MS) {
    const problem = 'HOOKFLOW_API_HEADERS_TIMEOUT_MS: must not exceed HOOKFLOW_API_REQUEST_TIMEOUT_MS';
    throw new ConfigError(`invalid configuration: ${problem}`, [problem]);
  }
  // Temporal hands an eager first task only to a worker sharing the starter's connection.
  if (e.HOOKFLOW_EAGER_START === 'true' && e.HOOKFLOW_API_WORKER !== 'true') {
    const problem =
      'HOOKFLOW_EAGER_START: needs HOOKFLOW_API_WORKER=true (eager start hands the first workflow task to a worker in the API process)';
    throw new ConfigError(`invalid configuration: ${problem}`, [problem]);
  }
  const dataDir = path.resolve(e.HOOKFLOW_DATA_DIR);
  const dbPath = path.resolve(e.HOOKFLOW_DB_PATH ?? path.join(dataDir, 'hookflow.sqlite'));
  return {
    dataDir,
    dbPath,
    database: e.HOOKFLOW_DATABASE_URL
      ? { kind: 'postgres', url: e.HOOKFLOW_DATABASE_URL, poolSize: e.HOOKFLOW_DATABASE_POOL_SIZE }
      : { kind: 'sqlite', file: dbPath },
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.HOOKFLOW_TASK_QUEUE,
      uiUrl: e.TEMPORAL_UI_URL.replace(/\/+$/, ''),
      sqliteSync: e.HOOKFLOW_TEMPORAL_SQLITE_SYNC,
    },
    api: {
      host: e.HOOKFLOW_API_HOST,
      port: e.HOOKFLOW_API_PORT,
      trustProxy: trustProxy(e.HOOKFLOW_TRUST_PROXY),
      keyCacheMs: e.HOOKFLOW_API_KEY_CACHE_MS,
      liveFlowCacheMs: e.HOOKFLOW_LIVE_FLOW_CACHE_MS,
      body: { maxBytes: e.HOOKFLOW_API_MAX_BODY_BYTES, maxDepth: e.HOOKFLOW_API_MAX_JSON_DEPTH },
      server: {
        headersTimeoutMs: e.HOOKFLOW_API_HEADERS_TIMEOUT_MS,
        requestTimeoutMs: e.HOOKFLOW_API_REQUEST_TIMEOUT_MS,
        keepAliveTimeoutMs: e.HOOKFLOW_API_KEEP_ALIVE_TIMEOUT_MS,
        maxConnectionsPerClient: e.HOOKFLOW_API_MAX_CONNECTIONS_PER_CLIENT,
      },
      hostsWorker: e.HOOKFLOW_API_WORKER === 'true',
      eagerStart: e.HOOKFLOW_EAGER_START === 'true',
    },
    webhook: {
      timeoutMs: e.HOOKFLOW_WEBHOOK_TIMEOUT_MS,
      maxResponseBytes: e.HOOKFLOW_WEBHOOK_MAX_RESPONSE_BYTES,
      retryAfterMaxMs: e.HOOKFLOW_RETRY_AFTER_MAX_MS,
      signingGraceSeconds: e.HOOKFLOW_SIGNING_ROTATION_GRACE_SECONDS,
      protection:
        e.HOOKFLOW_DESTINATION_PROTECTION === 'off'
          ? undefined
          : {
              limits: {
                concurrency: e.HOOKFLOW_DESTINATION_CONCURRENCY,
                ratePerSecond: e.HOOKFLOW_DESTINATION_RATE_PER_SECOND,
              },
              breaker: {
                windowMs: e.HOOKFLOW_BREAKER_WINDOW_SECONDS * 1000,
                minAttempts: e.HOOKFLOW_BREAKER_MIN_ATTEMPTS,
                failureRatio: e.HOOKFLOW_BREAKER_FAILURE_PERCENT / 100,
                cooldownMs: e.HOOKFLOW_BREAKER_COOLDOWN_SECONDS * 1000,
              },
              waitMs: e.HOOKFLOW_DESTINATION_WAIT_MS,
            },
      retry: {
        maxAttempts: e.HOOKFLOW_RETRY_MAX_ATTEMPTS,
        initialIntervalMs: e.HOOKFLOW_RETRY_INITIAL_INTERVAL_MS,
        backoffCoefficient: e.HOOKFLOW_RETRY_BACKOFF_COEFFICIENT,
        maxIntervalMs: e.HOOKFLOW_RETRY_MAX_INTERVAL_MS,
      },
    },
    secretKeys: e.HOOKFLOW_SECRET_KEYS,
    codec: {
      origins: e.HOOKFLOW_CODEC_ORIGINS
        ? e.HOOKFLOW_CODEC_ORIGINS.split(',').map((o) => o.trim())
        : [new URL(e.TEMPORAL_UI_URL).origin],
    },
    outbound: parseOutbound(e.HOOKFLOW_OUTBOUND_ALLOW, e.HOOKFLOW_OUTBOUND_PORTS),
    owner:
      e.HOOKFLOW_OWNER_EMAIL && e.HOOKFLOW_OWNER_PASSWORD
        ? { email: e.HOOKFLOW_OWNER_EMAIL, password: e.HOOKFLOW_OWNER_PASSWORD }
        : undefined,
    runSweepSeconds: e.HOOKFLOW_RUN_SWEEP_SECONDS,
    runBacklogMax: e.HOOKFLOW_RUN_BACKLOG_MAX,
    runStarter: {
      pollMs: e.HOOKFLOW_RUN_STARTER_POLL_MS,
      concurrency: e.HOOKFLOW_RUN_STARTER_CONCURRENCY,
      leaseMs: e.HOOKFLOW_RUN_STARTER_LEASE_SECONDS * 1000,
    },
    dates: { defaultTimezone: e.HOOKFLOW_DEFAULT_TIMEZONE, sweepSeconds: e.HOOKFLOW_DATE_SWEEP_SECONDS },
    logLevel: e.LOG_LEVEL,
    shutdownGraceSeconds: e.HOOKFLOW_SHUTDOWN_GRACE_SECONDS,
    metrics: {
      host: e.HOOKFLOW_METRICS_HOST,
      workerPort: e.HOOKFLOW_WORKER_METRICS_PORT,
      temporalPort: e.HOOKFLOW_TEMPORAL_METRICS_PORT,
    },
    worker: {
      cachedWorkflows: e.HOOKFLOW_WORKER_CACHED_WORKFLOWS,
      renderThreads: e.HOOKFLOW_RENDER_THREADS,
    },
  };
}

function trustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined) return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}
