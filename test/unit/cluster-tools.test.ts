import fs from 'node:fs';
import path from 'node:path';
import { loadClusterConfig } from '../../src/cluster/config';
import {
  searchAttributeTypes,
  temporalServerEnv,
  defaultTemporalPorts,
} from '../../src/cluster/temporal-server';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_SERVER_VERSION } from '../../src/cluster/tools';

test('the Makefile builds the versions the cluster code looks for', () => {
  const makefile = fs.readFileSync(path.join(__dirname, '..', '..', 'Makefile'), 'utf8');
  expect(makefile).toMatch(new RegExp(`^TEMPORAL_SERVER_VERSION := ${TEMPORAL_SERVER_VERSION}$`, 'm'));
  expect(makefile).toMatch(new RegExp(`^TEMPORAL_UI_SERVER_VERSION := ${TEMPORAL_UI_SERVER_VERSION}$`, 'm'));
});

test("hookflow's search attributes map to Temporal's indexed value types", () => {
  // temporal.api.enums.v1.IndexedValueType: KEYWORD = 2, INT = 3.
  expect(searchAttributeTypes()).toEqual({ HookflowFlowId: 2, HookflowFlowVersion: 3, HookflowMetric: 2 });
});

test("with the frontend on 7233 the ports are the template's own", () => {
  expect(defaultTemporalPorts()).toEqual({
    frontend: 7233,
    frontendHttp: 7243,
    frontendMembership: 6933,
    history: 7234,
    historyMembership: 6934,
    matching: 7235,
    matchingMembership: 6935,
    worker: 7239,
    workerMembership: 6939,
  });
});

test('the server environment: PostgreSQL 12 plugin, shards, every port, the dynamic config file', () => {
  const env = temporalServerEnv({
    executable: 'server',
    postgres: { host: '127.0.0.1', port: 5433, user: 'postgres' },
    ports: defaultTemporalPorts(7300),
    historyShards: 8,
    dynamicConfigFile: '/tmp/dc.yaml',
  });
  expect(env).toMatchObject({
    DB: 'postgres12',
    POSTGRES_SEEDS: '127.0.0.1',
    DB_PORT: '5433',
    NUM_HISTORY_SHARDS: '8',
    FRONTEND_GRPC_PORT: '7300',
    HISTORY_GRPC_PORT: '7301',
    FRONTEND_MEMBERSHIP_PORT: '7000',
    DYNAMIC_CONFIG_FILE_PATH: '/tmp/dc.yaml',
  });
});

test('cluster settings: defaults, and an error naming a bad variable', () => {
  expect(loadClusterConfig({})).toEqual({
    workers: 2,
    apiProcesses: 2,
    postgresPort: 5433,
    historyShards: 8,
    uiPort: 8233,
  });
  expect(loadClusterConfig({ HOOKFLOW_WORKERS: '3' }).workers).toBe(3);
  expect(() => loadClusterConfig({ HOOKFLOW_WORKERS: '0' })).toThrow(/HOOKFLOW_WORKERS/);
});
