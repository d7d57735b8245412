import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import fs from 'node:fs';
import path from 'node:path';
import { loadClusterConfig } from '../cluster/config';
import { startPostgres } from '../cluster/postgres';
import { Supervisor } from '../cluster/supervisor';
import {
  defaultTemporalPorts,
  prepareNamespace,
  setupTemporalSchemas,
  spawnTemporalServer,
  writeDynamicConfig,
} from '../cluster/temporal-server';
import { waitForFrontend } from '../temporal/wait-for-frontend';
import { clusterToolPaths, requireServerTools, TEMPORAL_UI_SERVER_VERSION } from '../cluster/tools';
import { spawnUiServer } from '../cluster/ui-server';
import { loadConfig } from '../config';
import { API_NODE_FLAGS } from '../api/node-flags';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../worker/node-flags';

/**
 * `make start-cluster`: hookflow on a real Temporal cluster, on one machine and without Docker.
 * PostgreSQL (kept in `<data dir>/postgres`) holds the `temporal`, `temporal_visibility` and
 * `hookflow` databases; the Temporal server (8 history shards), its Web UI, the API processes
 * (sharing the API port through node's cluster module) and the worker processes run under a
 * supervisor that restarts a crashed process and stops everything on Ctrl-C.
 */

const DIST = path.join(__dirname, '..');

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the API did not become healthy at ${url} within ${timeoutMs} ms`);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const settings = loadClusterConfig();
  const tools = clusterToolPaths(path.join(DIST, '..'));
  requireServerTools(tools);
  fs.mkdirSync(config.dataDir, { recursive: true });

  console.log('Starting PostgreSQL...');
  const pg = await startPostgres({
    dataDir: path.join(config.dataDir, 'postgres'),
    port: settings.postgresPort,
    fast: false,
  });
  const supervisor = new Supervisor();
  supervisor.stopOnSignals(() => pg.stop());
  try {
    console.log('Creating or updating the Temporal schemas...');
    await setupTemporalSchemas(tools.sqlTool, pg);
    await pg.createDatabase('hookflow');

    const [host = '127.0.0.1', portText = '7233'] = config.temporal.address.split(':');
    const ip = host === 'localhost' ? '127.0.0.1' : host;
    const dynamicConfigFile = path.join(config.dataDir, 'temporal-dynamic-config.yaml');
    writeDynamicConfig(dynamicConfigFile);
    const temporal = supervisor.add({
      name: 'temporal',
      start: () =>
        spawnTemporalServer({
          executable: tools.server,
          postgres: { host: '127.0.0.1', port: pg.port, user: 'postgres' },
          ports: defaultTemporalPorts(Number(portText)),
          ip,
          historyShards: settings.historyShards,
          dynamicConfigFile,
          logLevel: process.env.HOOKFLOW_TEMPORAL_LOG_LEVEL ?? 'warn',
        }),
    });
    console.log('Starting the Temporal server...');
    await waitForFrontend(config.temporal.address, 120_000, () =>
      temporal.restarts > 2 ? 'keeps exiting (see its lines above)' : undefined,
    );
    await prepareNamespace(config.temporal.address, config.temporal.namespace);

    let uiUrl = config.temporal.uiUrl;
    // The UI at the API's host name: the session cookie reaches the codec endpoint only same-site.
    const browserHost = ['0.0.0.0', '::'].includes(config.api.host) ? 'localhost' : config.api.host;
    if (fs.existsSync(tools.uiServer)) {
      supervisor.add({
        name: 'temporal-ui',
        start: () =>
          spawnUiServer({
            executable: tools.uiServer,
            configDir: path.join(config.dataDir, 'temporal-ui'),
            temporalAddress: config.temporal.address,
            port: settings.uiPort,
            host: ip,
            defaultNamespace: config.temporal.namespace,
            codecEndpoint: `http://${browserHost}:${config.api.port}/codec`,
          }),
      });
      uiUrl = process.env.TEMPORAL_UI_URL ?? `http://${browserHost}:${settings.uiPort}`;
    } else {
      console.log(
        `The Temporal Web UI server (${TEMPORAL_UI_SERVER_VERSION}) is not built: "make cluster-tools" builds it. Run links point to ${uiUrl}.`,
      );
    }

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_UI_URL: uiUrl,
      // hookflow's own database on the same PostgreSQL, unless the user points it elsewhere.
      HOOKFLOW_DATABASE_URL: process.env.HOOKFLOW_DATABASE_URL ?? pg.url('hookflow'),
    };
    // The API processes share one listening socket (the primary hands out connections).
    cluster.setupPrimary({
      exec: path.join(DIST, 'api', 'main.js'),
      execArgv: [...API_NODE_FLAGS],
      silent: true,
    });
    for (let i = 1; i <= settings.apiProcesses; i++) {
      supervisor.add({ name: `api-${i}`, start: () => cluster.fork(env).process });
    }
    for (let i = 1; i <= settings.workers; i++) {
      supervisor.add({
        name: `worker-${i}`,
        start: () =>
          spawn(process.execPath, [...WORKER_NODE_FLAGS, path.join(DIST, 'worker', 'main.js')], {
            env: { ...WORKER_ENV, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
      });
    }

    const apiUrl = `http://${config.api.host}:${config.api.port}`;
    await waitForHealth(apiUrl, 120_000);
    console.log('');
    console.log(`  hookflow API      ${apiUrl}  (${settings.apiProcesses} processes)`);
    console.log(`  workers           ${settings.workers} processes`);
    console.log(`  Temporal Web UI   ${uiUrl}`);
    console.log(
      `  Temporal frontend ${config.temporal.address} (namespace ${config.temporal.namespace}, ${settings.historyShards} history shards)`,
    );
    console.log(`  PostgreSQL        ${pg.url()}  (data in ${pg.dataDir})`);
    console.log(`  Data folder       ${config.dataDir}`);
    console.log('');
    console.log('Press Ctrl-C to stop.');
  } catch (err) {
    await supervisor.stop();
    await pg.stop();
    throw err;
  }
}

main().catch((err: unknown) => {
  console.error(`the cluster failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
