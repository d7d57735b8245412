import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { DYNAMIC_CONFIG } from '../../src/cluster/temporal-server';
import { SEARCH_ATTRIBUTE_FLAGS } from '../../src/temporal/search-attributes';
import { API_NODE_FLAGS } from '../../src/api/node-flags';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../../src/worker/node-flags';

/** No Docker engine runs in CI: the compose file and the Dockerfile are checked statically. */

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: unknown };
  restart?: string;
  deploy?: { replicas?: number };
  container_name?: string;
}
const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const services = compose.services;
const HOOKFLOW = ['api', 'worker'];
const ONE_SHOT = ['temporal-schema', 'temporal-namespace'];

/** Every variable name the configuration reads: the keys of its zod schema. */
const CONFIG_NAMES = new Set(
  [...read('src/config.ts').matchAll(/^ {2}([A-Z][A-Z0-9_]+): /gm)].map((m) => m[1]!),
);

/** The environment as compose would pass it with nothing set: `${X:-}` empty, `${X:?}` a value. */
function interpolated(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      v
        .replace(/\$\{(\w+):-\}/g, '')
        .replace(/\$\{(\w+):\?[^}]*\}/g, (_m, name: string) =>
          name === 'HOOKFLOW_SECRET_KEYS' ? `k1:${Buffer.alloc(32, 1).toString('base64')}` : 'secret',
        ),
    ]),
  );
}

test('compose runs PostgreSQL, Temporal on it with its schema and namespace jobs and UI, and hookflow', () => {
  expect(Object.keys(services).sort()).toEqual(
    ['api', 'postgres', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui', 'worker'].sort(),
  );
  // Started with the same V8 flags as every other launcher of the worker.
  expect(services.worker!.command).toEqual(['node', ...WORKER_NODE_FLAGS, 'dist/worker/main.js']);
  expect(services.worker!.environment).toMatchObject(WORKER_ENV);
  expect(services.api!.command).toEqual(['node', ...API_NODE_FLAGS, 'dist/api/main.js']);
  for (const name of HOOKFLOW) expect(services[name]!.build).toBe('.');
  expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
  expect(Number(services.temporal!.environment!.NUM_HISTORY_SHARDS)).toBeGreaterThan(1);
});

test('the Temporal server runs with the dynamic config of make start-cluster (eager activities on)', () => {
  const temporal = services.temporal!;
  const target = temporal.environment!.DYNAMIC_CONFIG_FILE_PATH;
  const mount = (temporal.volumes ?? []).find((v) => v.split(':')[1] === target);
  expect(mount).toBeDefined();
  const file = parse(read(mount!.split(':')[0]!)) as Record<string, { value: unknown }[]>;
  expect(Object.fromEntries(Object.entries(file).map(([k, v]) => [k, v[0]!.value]))).toEqual(DYNAMIC_CONFIG);
});

test('every dependency names a service, with a condition it can meet', () => {
  for (const [name, svc] of Object.entries(services)) {
    const deps = svc.depends_on ?? {};
    expect(Array.isArray(deps)).toBe(false);
    for (const [target, { condition }] of Object.entries(deps as Record<string, { condition?: string }>)) {
      expect([name, target, services[target] !== undefined]).toEqual([name, target, true]);
      expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
      if (condition === 'service_healthy')
        expect([target, services[target]!.healthcheck?.test]).not.toEqual([target, undefined]);
      if (condition === 'service_completed_successfully') expect(ONE_SHOT).toContain(target);
    }
  }
  expect(services.temporal!.depends_on).toEqual({
    'temporal-schema': { condition: 'service_completed_successfully' },
  });
  for (const name of HOOKFLOW) {
    expect(services[name]!.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
      'temporal-namespace': { condition: 'service_completed_successfully' },
    });
  }
});

test('images are pinned (no latest), the server on 1.32.x; one-shot jobs do not restart, the rest do', () => {
  for (const [name, svc] of Object.entries(services)) {
    if (svc.image) {
      expect([name, svc.image]).toEqual([name, expect.stringMatching(/^[\w./-]+:\d[\w.-]*$/)]);
      expect(svc.image).not.toMatch(/:latest$/);
    }
    expect([name, svc.restart]).toEqual([name, ONE_SHOT.includes(name) ? 'no' : 'unless-stopped']);
    if (!ONE_SHOT.includes(name)) expect([name, svc.healthcheck?.test]).not.toEqual([name, undefined]);
  }
  expect(services.temporal!.image).toMatch(/^temporalio\/server:1\.32\.\d+$/);
  expect(services['temporal-schema']!.image).toMatch(/^temporalio\/admin-tools:/);
  expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
});

test('the schema job makes both Temporal databases; the namespace job registers every search attribute', () => {
  const schema = JSON.stringify(services['temporal-schema']!.command);
  expect(schema).toContain('temporal:temporal visibility:temporal_visibility');
  expect(schema).toContain('update-schema');
  const ns = JSON.stringify(services['temporal-namespace']!.command);
  for (const flag of SEARCH_ATTRIBUTE_FLAGS) expect(ns).toContain(flag.replace('=', ':'));
});

test('hookflow services are scaled without container names, on PostgreSQL, with secrets from the environment', () => {
  for (const [name, svc] of Object.entries(services)) {
    if (svc.deploy?.replicas !== undefined) expect([name, svc.container_name]).toEqual([name, undefined]);
  }
  for (const name of HOOKFLOW) {
    const svc = services[name]!;
    expect(svc.deploy?.replicas).toBeGreaterThanOrEqual(2);
    const env = svc.environment!;
    expect(env.HOOKFLOW_DATABASE_URL).toMatch(
      /^postgres:\/\/hookflow:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/hookflow$/,
    );
    expect(env.HOOKFLOW_SECRET_KEYS).toMatch(/^\$\{HOOKFLOW_SECRET_KEYS:\?[^}]+\}$/);
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
  }
  // Secrets are never written in the file, only taken from the environment.
  expect(JSON.stringify(services)).not.toMatch(/PASSWORD"?:\s*"(?!\$\{)/);
});

test('hookflow services only set variables the configuration reads, and valid values', () => {
  for (const name of HOOKFLOW) {
    const env = services[name]!.environment!;
    // Besides the configuration, only the process environment of src/worker/node-flags.ts.
    const others = Object.keys(env).filter(
      (k) => !CONFIG_NAMES.has(k) && !(name === 'worker' && k in WORKER_ENV),
    );
    expect([name, others]).toEqual([name, []]);
    expect(() => loadConfig(interpolated(env))).not.toThrow();
  }
  const worker = loadConfig(interpolated(services.worker!.environment!));
  expect(worker.metrics.workerPort).toBe(9464);
  expect(worker.metrics.temporalPort).toBe(9465);
  expect(JSON.stringify(services.worker!.healthcheck)).toContain(':9464/metrics');
  expect(JSON.stringify(services.api!.healthcheck)).toContain('/ready');
});

test('the image: multi-stage, no dev dependencies, test or bench code, a non-root user and a health check', () => {
  const dockerfile = read('Dockerfile');
  expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
  for (const from of dockerfile.match(/^FROM \S+/gm)!) expect(from).toMatch(/:\d[\w.-]*/);
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  expect(finalStage).toMatch(/npm ci --omit=dev/);
  expect(finalStage).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
  expect(finalStage).toMatch(/^COPY views \.\/views$/m);
  expect(finalStage).toMatch(/^USER (?!root)\w+$/m);
  expect(finalStage).toMatch(/^HEALTHCHECK .*\n?.*\/health/m);
  // The image's default process is the API, with the V8 flags every other launcher gives it.
  const cmd = finalStage
    .split('\n')
    .filter((line) => line.startsWith('CMD '))
    .pop();
  expect(JSON.parse(cmd!.slice('CMD '.length))).toEqual(['node', ...API_NODE_FLAGS, 'dist/api/main.js']);
  expect(finalStage).not.toMatch(/^COPY (\.|test|bench|\.tools)\b/m);
  expect(fs.readdirSync(path.join(ROOT, 'views')).length).toBeGreaterThan(0);
  const ignored = read('.dockerignore').split('\n');
  for (const entry of ['test', 'bench', '.tools', 'node_modules']) expect(ignored).toContain(entry);
});
