import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { describeLocation } from '../../src/db';

test('defaults follow Temporal conventions and the retry policy spans about a day', () => {
  const c = loadConfig({});
  expect(c.temporal).toMatchObject({
    address: 'localhost:7233',
    namespace: 'default',
    taskQueue: 'hookflow',
  });
  const r = c.webhook.retry;
  let total = 0;
  for (let attempt = 1; attempt < r.maxAttempts; attempt++) {
    total += Math.min(r.initialIntervalMs * r.backoffCoefficient ** (attempt - 1), r.maxIntervalMs);
  }
  expect(r.maxAttempts - 1).toBe(17);
  expect(total / 3_600_000).toBeGreaterThan(20);
  expect(total / 3_600_000).toBeLessThan(28);
});

test('a bad value names the variable', () => {
  expect(() => loadConfig({ HOOKFLOW_API_PORT: 'abc', TEMPORAL_ADDRESS: 'nohost' })).toThrow(ConfigError);
  try {
    loadConfig({ HOOKFLOW_API_PORT: 'abc' });
  } catch (err) {
    expect((err as ConfigError).message).toMatch(/HOOKFLOW_API_PORT/);
  }
});

test('trust proxy: off by default; hop counts, names and CIDRs pass; anything else names the variable', () => {
  expect(loadConfig({}).api.trustProxy).toBe(false);
  expect(loadConfig({ HOOKFLOW_TRUST_PROXY: '1' }).api.trustProxy).toBe(1);
  expect(loadConfig({ HOOKFLOW_TRUST_PROXY: 'true' }).api.trustProxy).toBe(true);
  expect(loadConfig({ HOOKFLOW_TRUST_PROXY: 'loopback, 10.0.0.0/8' }).api.trustProxy).toBe(
    'loopback, 10.0.0.0/8',
  );
  expect(() => loadConfig({ HOOKFLOW_TRUST_PROXY: 'everyone' })).toThrow(/HOOKFLOW_TRUST_PROXY/);
});

test('shutdown grace and metrics ports: 30 s and off by default; 0 asks for a free port; bad ports name the variable', () => {
  const c = loadConfig({});
  expect(c.shutdownGraceSeconds).toBe(30);
  expect(c.metrics).toEqual({ host: '127.0.0.1', workerPort: undefined, temporalPort: undefined });
  const on = loadConfig({
    HOOKFLOW_SHUTDOWN_GRACE_SECONDS: '5',
    HOOKFLOW_METRICS_HOST: '0.0.0.0',
    HOOKFLOW_WORKER_METRICS_PORT: '0',
    HOOKFLOW_TEMPORAL_METRICS_PORT: '9465',
  });
  expect(on.shutdownGraceSeconds).toBe(5);
  expect(on.metrics).toEqual({ host: '0.0.0.0', workerPort: 0, temporalPort: 9465 });
  // An empty variable (compose's `${X:-}`) means unset.
  expect(loadConfig({ HOOKFLOW_WORKER_METRICS_PORT: '' }).metrics.workerPort).toBeUndefined();
  expect(() => loadConfig({ HOOKFLOW_WORKER_METRICS_PORT: '70000' })).toThrow(/HOOKFLOW_WORKER_METRICS_PORT/);
  expect(() => loadConfig({ HOOKFLOW_SHUTDOWN_GRACE_SECONDS: '-1' })).toThrow(
    /HOOKFLOW_SHUTDOWN_GRACE_SECONDS/,
  );
});

test('the database: SQLite in the data folder by default, PostgreSQL with HOOKFLOW_DATABASE_URL, its password never shown', () => {
  expect(loadConfig({ HOOKFLOW_DATA_DIR: '/srv/hf' }).database).toEqual({
    kind: 'sqlite',
    file: '/srv/hf/hookflow.sqlite',
  });
  const url = 'postgres://hookflow:s3cret-pw@db.internal:5432/hookflow';
  const c = loadConfig({ HOOKFLOW_DATABASE_URL: url, HOOKFLOW_DATABASE_POOL_SIZE: '4' });
  expect(c.database).toEqual({ kind: 'postgres', url, poolSize: 4 });
  expect(loadConfig({ HOOKFLOW_DATABASE_URL: url }).database).toMatchObject({ poolSize: 10 });
  expect(describeLocation(c.database)).toBe('postgres:postgres://hookflow:***@db.internal:5432/hookflow');
  for (const bad of ['mysql://u:s3cret-pw@h/db', 'postgres://u:s3cret-pw@h', 'not a url s3cret-pw']) {
    let message = '';
    try {
      loadConfig({ HOOKFLOW_DATABASE_URL: bad });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as ConfigError).message;
    }
    expect(message).toMatch(/HOOKFLOW_DATABASE_URL/);
    expect(message).not.toContain('s3cret-pw');
  }
  expect(() => loadConfig({ HOOKFLOW_DATABASE_URL: url, HOOKFLOW_DATABASE_POOL_SIZE: '0' })).toThrow(
    /HOOKFLOW_DATABASE_POOL_SIZE/,
  );
});

test('the run starter: defaults, and a lease that must outlast three polls', () => {
  expect(loadConfig({}).runStarter).toEqual({ pollMs: 1000, concurrency: 16, leaseMs: 30_000 });
  expect(
    loadConfig({
      HOOKFLOW_RUN_STARTER_POLL_MS: '200',
      HOOKFLOW_RUN_STARTER_CONCURRENCY: '4',
      HOOKFLOW_RUN_STARTER_LEASE_SECONDS: '3',
    }).runStarter,
  ).toEqual({ pollMs: 200, concurrency: 4, leaseMs: 3000 });
  expect(() => loadConfig({ HOOKFLOW_RUN_STARTER_LEASE_SECONDS: '2' })).toThrow(
    /HOOKFLOW_RUN_STARTER_LEASE_SECONDS: must last at least three HOOKFLOW_RUN_STARTER_POLL_MS/,
  );
  expect(() => loadConfig({ HOOKFLOW_RUN_STARTER_CONCURRENCY: '0' })).toThrow(
    /HOOKFLOW_RUN_STARTER_CONCURRENCY/,
  );
  expect(() => loadConfig({ HOOKFLOW_RUN_STARTER_POLL_MS: '10' })).toThrow(/HOOKFLOW_RUN_STARTER_POLL_MS/);
});

test('the API key and live flow caches: 2 s by default, 0 turns them off, past a minute names the variable', () => {
  expect(loadConfig({}).api).toMatchObject({ keyCacheMs: 2000, liveFlowCacheMs: 2000 });
  expect(loadConfig({ HOOKFLOW_API_KEY_CACHE_MS: '0', HOOKFLOW_LIVE_FLOW_CACHE_MS: '0' }).api).toMatchObject({
    keyCacheMs: 0,
    liveFlowCacheMs: 0,
  });
  expect(() => loadConfig({ HOOKFLOW_API_KEY_CACHE_MS: '600000' })).toThrow(/HOOKFLOW_API_KEY_CACHE_MS/);
  expect(() => loadConfig({ HOOKFLOW_LIVE_FLOW_CACHE_MS: '-1' })).toThrow(/HOOKFLOW_LIVE_FLOW_CACHE_MS/);
});

test('worker memory: 250 cached runs and one render thread by default; 0 turns the cache off; bad values name the variable', () => {
  expect(loadConfig({}).worker).toEqual({ cachedWorkflows: 250, renderThreads: 1 });
  expect(loadConfig({ HOOKFLOW_WORKER_CACHED_WORKFLOWS: '0', HOOKFLOW_RENDER_THREADS: '4' }).worker).toEqual({
    cachedWorkflows: 0,
    renderThreads: 4,
  });
  for (const [name, value] of [
    ['HOOKFLOW_WORKER_CACHED_WORKFLOWS', '-1'],
    ['HOOKFLOW_WORKER_CACHED_WORKFLOWS', 'many'],
    ['HOOKFLOW_WORKER_CACHED_WORKFLOWS', '1'],
    ['HOOKFLOW_RENDER_THREADS', '0'],
  ] as const) {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(name));
  }
});

test("the dev server's SQLite sync mode: normal by default, full on request, nothing else", () => {
  expect(loadConfig({}).temporal.sqliteSync).toBe('normal');
  expect(loadConfig({ HOOKFLOW_TEMPORAL_SQLITE_SYNC: 'full' }).temporal.sqliteSync).toBe('full');
  expect(() => loadConfig({ HOOKFLOW_TEMPORAL_SQLITE_SYNC: 'off' })).toThrow(/HOOKFLOW_TEMPORAL_SQLITE_SYNC/);
});

test('limits on hostile input: defaults, overrides, and a header timeout longer than the request timeout is refused', () => {
  const c = loadConfig({});
  expect(c.api.body).toEqual({ maxBytes: 512 * 1024, maxDepth: 64 });
  expect(c.api.server).toEqual({
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5000,
    maxConnectionsPerClient: 256,
  });
  const set = loadConfig({
    HOOKFLOW_API_MAX_BODY_BYTES: '2048',
    HOOKFLOW_API_MAX_JSON_DEPTH: '8',
    HOOKFLOW_API_MAX_CONNECTIONS_PER_CLIENT: '0',
  });
  expect(set.api.body).toEqual({ maxBytes: 2048, maxDepth: 8 });
  expect(set.api.server.maxConnectionsPerClient).toBe(0);
  expect(() => loadConfig({ HOOKFLOW_API_MAX_JSON_DEPTH: '1' })).toThrow(/HOOKFLOW_API_MAX_JSON_DEPTH/);
  expect(() =>
    loadConfig({ HOOKFLOW_API_HEADERS_TIMEOUT_MS: '20000', HOOKFLOW_API_REQUEST_TIMEOUT_MS: '10000' }),
  ).toThrow(/HOOKFLOW_API_HEADERS_TIMEOUT_MS: must not exceed HOOKFLOW_API_REQUEST_TIMEOUT_MS/);
});
