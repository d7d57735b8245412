import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTE_FLAGS } from '../temporal/search-attributes';
import type { PostgresCluster } from './postgres';

/**
 * The Temporal server (`go.temporal.io/server/cmd/server`) on PostgreSQL as a plain process. Since
 * v1.30 the server reads its embedded config template, filled from environment variables (DB,
 * POSTGRES_SEEDS, NUM_HISTORY_SHARDS, the *_GRPC_PORT and *_MEMBERSHIP_PORT of each service…).
 */

/** The ports of the four services; the template's defaults are 7233-7239 and 6933-6939. */
export interface TemporalPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/**
 * The template's ports (7233-7243, 6933-6939) moved with the frontend's: another frontend port
 * moves the whole set, so two servers on one machine never share one.
 */
export function defaultTemporalPorts(frontend = 7233): TemporalPorts {
  return {
    frontend,
    frontendHttp: frontend + 10,
    frontendMembership: frontend - 300,
    history: frontend + 1,
    historyMembership: frontend - 299,
    matching: frontend + 2,
    matchingMembership: frontend - 298,
    worker: frontend + 6,
    workerMembership: frontend - 294,
  };
}

/** Whether a TCP port can be bound on loopback now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Free ports for every service, for a throwaway server beside others (tests, benchmarks). Below
 * 32768: the cluster_membership table keeps ports as smallint, and the kernel's own picks (the
 * ephemeral range) are above it.
 */
export async function freeTemporalPorts(): Promise<TemporalPorts> {
  const keys = Object.keys(defaultTemporalPorts()) as (keyof TemporalPorts)[];
  const ports: number[] = [];
  while (ports.length < keys.length) {
    const p = 20_000 + crypto.randomInt(12_000);
    if (!ports.includes(p) && (await canBind(p))) ports.push(p);
  }
  return Object.fromEntries(keys.map((k, i) => [k, ports[i]!])) as unknown as TemporalPorts;
}

export const TEMPORAL_DATABASES = ['temporal', 'temporal_visibility'] as const;

/**
 * Creates the `temporal` and `temporal_visibility` databases and brings their schemas to the
 * version embedded in the schema tool. Safe to run on every start: an existing schema is only
 * updated (to nothing when it is current).
 */
export async function setupTemporalSchemas(sqlTool: string, pg: PostgresCluster): Promise<void> {
  for (const db of TEMPORAL_DATABASES) {
    await pg.createDatabase(db);
    const base = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(pg.port), '-u', 'postgres'];
    const run = (args: string[]) => {
      const r = spawnSync(sqlTool, [...base, '--db', db, ...args], { encoding: 'utf8' });
      if (r.status !== 0) {
        throw new Error(
          `temporal sql tool ${args[0]} on ${db} failed (${r.status}): ${r.stderr || r.stdout}`,
        );
      }
    };
    // Version 0.0 creates only the schema_version tables; update-schema then applies every step.
    run(['setup-schema', '-v', '0.0']);
    run([
      'update-schema',
      '--schema-name',
      `postgresql/v12/${db === 'temporal' ? 'temporal' : 'visibility'}`,
    ]);
  }
}

/**
 * Dynamic config hookflow's Temporal servers run with: workers ask for eager activities (the dev
 * server has them on; so do the cluster and docker-compose, whose deploy/temporal-dynamic-config.yaml
 * test/unit/compose.test.ts holds to these settings). Eager workflow start is the server's default
 * already; written down so that HOOKFLOW_EAGER_START does not hang on that default.
 */
export const DYNAMIC_CONFIG: Readonly<Record<string, boolean>> = {
  'system.enableActivityEagerExecution': true,
  'system.enableEagerWorkflowStart': true,
  'frontend.enableUpdateWorkflowExecution': true,
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
};

/** The dynamic config the server polls: {@link DYNAMIC_CONFIG}, as the server's YAML. */
export function writeDynamicConfig(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    [
      '# Written by hookflow (src/cluster/temporal-server.ts) at each start.',
      ...Object.entries(DYNAMIC_CONFIG).flatMap(([key, value]) => [`${key}:`, `  - value: ${value}`]),
      '',
    ].join('\n'),
  );
}

export interface TemporalServerOptions {
  executable: string;
  postgres: { host: string; port: number; user: string; password?: string };
  ports: TemporalPorts;
  /** Interface every service binds. @default "127.0.0.1" */
  ip?: string;
  /** History shards of a new cluster; must stay the same for its life. */
  historyShards: number;
  dynamicConfigFile: string;
  /** @default "warn" */
  logLevel?: string;
}

/** The environment the embedded config template reads. */
export function temporalServerEnv(opts: TemporalServerOptions): NodeJS.ProcessEnv {
  const p = opts.ports;
  return {
    PATH: process.env.PATH,
    DB: 'postgres12',
    POSTGRES_SEEDS: opts.postgres.host,
    DB_PORT: String(opts.postgres.port),
    POSTGRES_USER: opts.postgres.user,
    POSTGRES_PWD: opts.postgres.password ?? '',
    DBNAME: 'temporal',
    VISIBILITY_DBNAME: 'temporal_visibility',
    NUM_HISTORY_SHARDS: String(opts.historyShards),
    BIND_ON_IP: opts.ip ?? '127.0.0.1',
    FRONTEND_GRPC_PORT: String(p.frontend),
    FRONTEND_HTTP_PORT: String(p.frontendHttp),
    FRONTEND_MEMBERSHIP_PORT: String(p.frontendMembership),
    HISTORY_GRPC_PORT: String(p.history),
    HISTORY_MEMBERSHIP_PORT: String(p.historyMembership),
    MATCHING_GRPC_PORT: String(p.matching),
    MATCHING_MEMBERSHIP_PORT: String(p.matchingMembership),
    WORKER_GRPC_PORT: String(p.worker),
    WORKER_MEMBERSHIP_PORT: String(p.workerMembership),
    DYNAMIC_CONFIG_FILE_PATH: opts.dynamicConfigFile,
    LOG_LEVEL: opts.logLevel ?? 'warn',
    // No authorizer is configured: the frontend is on loopback, as the dev server's is.
    TEMPORAL_ALLOW_NO_AUTH: 'true',
  };
}

/** Starts `server start` (every service in one process) with its output piped. */
export function spawnTemporalServer(opts: TemporalServerOptions): ChildProcess {
  return spawn(opts.executable, ['start'], {
    env: temporalServerEnv(opts),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** IndexedValueType of temporal.api.enums.v1, by the names SEARCH_ATTRIBUTE_FLAGS uses. */
const INDEXED_VALUE_TYPES: Record<string, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};

/** hookflow's search attributes as name → IndexedValueType (from the flags the dev server takes). */
export function searchAttributeTypes(): Record<string, number> {
  return Object.fromEntries(
    SEARCH_ATTRIBUTE_FLAGS.map((flag) => {
      const [name = '', type = ''] = flag.split('=');
      const value = INDEXED_VALUE_TYPES[type];
      if (value === undefined) throw new Error(`unknown search attribute type in ${flag}`);
      return [name, value];
    }),
  );
}

/** gRPC status code (a plain number: the client's Status enum is not exported). */
const ALREADY_EXISTS = 6;

/**
 * Registers the namespace and hookflow's search attributes unless they exist, then waits until
 * the frontend serves both (its namespace cache refreshes every few seconds).
 */
export async function prepareNamespace(
  address: string,
  namespace: string,
  opts: { retentionDays?: number; timeoutMs?: number } = {},
): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs(`${opts.retentionDays ?? 7} days`),
      });
    } catch (err) {
      if (!(isGrpcServiceError(err) && Number(err.code) === ALREADY_EXISTS)) throw err;
    }
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const wanted = searchAttributeTypes();
    for (;;) {
      if (Date.now() > deadline) throw new Error(`namespace ${namespace} not ready on ${address}`);
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        const missing = Object.entries(wanted).filter(([name]) => !(name in (customAttributes ?? {})));
        if (missing.length === 0) {
          // Visibility answers through the namespace cache: a query proves the namespace is served.
          await connection.workflowService.countWorkflowExecutions({ namespace, query: '' });
          return;
        }
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: Object.fromEntries(missing),
        });
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`namespace ${namespace} not ready on ${address}`, { cause: err });
        }
        await sleep(500);
      }
    }
  } finally {
    await connection.close();
  }
}
