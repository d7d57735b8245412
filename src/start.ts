import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { loadConfig } from './config';
import { DevServer } from './temporal/dev-server';
import { API_NODE_FLAGS } from './api/node-flags';
import { WORKER_ENV, WORKER_NODE_FLAGS } from './worker/node-flags';

/**
 * `make start`: the Temporal dev server (state kept in the data folder), the worker and the API,
 * on embedded defaults. Prints the URLs, then runs until Ctrl-C.
 */

function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      // Ready, not just alive: the database and Temporal answer and migrations are applied.
      const res = await fetch(`${url}/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the API did not become healthy at ${url} within ${timeoutMs} ms`);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const uiPort = Number(process.env.HOOKFLOW_TEMPORAL_UI_PORT ?? 8233);
  const [host = 'localhost', portText = '7233'] = config.temporal.address.split(':');
  let server: DevServer | undefined;
  let uiUrl = config.temporal.uiUrl;
  // The UI at the API's host name: the session cookie reaches the codec endpoint only same-site.
  const browserHost = ['0.0.0.0', '::'].includes(config.api.host) ? 'localhost' : config.api.host;
  if (await portInUse(host, Number(portText))) {
    console.log(`Temporal is already listening on ${config.temporal.address}; using it.`);
  } else {
    console.log('Starting the Temporal dev server...');
    server = await DevServer.start({
      ip: host === 'localhost' ? '127.0.0.1' : host,
      port: Number(portText),
      uiPort,
      codecEndpoint: `http://${browserHost}:${config.api.port}/codec`,
      dbFile: path.join(config.dataDir, 'temporal.sqlite'),
      sqliteSync: config.temporal.sqliteSync,
      namespace: config.temporal.namespace,
      logFile: path.join(config.dataDir, 'temporal.log'),
    });
    uiUrl = `http://${browserHost}:${uiPort}`;
  }

  const env = { ...process.env, TEMPORAL_UI_URL: process.env.TEMPORAL_UI_URL ?? uiUrl };
  const children: ChildProcess[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve())),
    );
    await server?.stop();
    process.exit(code);
  };
  const launch = (
    name: string,
    script: string,
    flags: readonly string[] = [],
    defaults: Readonly<Record<string, string>> = {},
  ) => {
    const child = spawn(process.execPath, [...flags, path.join(__dirname, script)], {
      env: { ...defaults, ...env },
      stdio: 'inherit',
    });
    child.once('exit', (code, signal) => {
      if (!stopping) {
        console.error(`${name} exited (${code ?? signal}); stopping everything.`);
        void stopAll(1);
      }
    });
    children.push(child);
  };
  // HOOKFLOW_API_WORKER: one process, the API with the worker in it (README "Eager start").
  if (config.api.hostsWorker) {
    launch('API', 'host/api.js', WORKER_NODE_FLAGS, WORKER_ENV);
  } else {
    launch('worker', 'worker/main.js', WORKER_NODE_FLAGS, WORKER_ENV);
    launch('API', 'api/main.js', API_NODE_FLAGS);
  }
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));

  const apiUrl = `http://${config.api.host}:${config.api.port}`;
  await waitForHealth(apiUrl, 60_000);
  console.log('');
  console.log(`  hookflow API      ${apiUrl}`);
  console.log(`  Temporal Web UI   ${uiUrl}`);
  console.log(`  Temporal frontend ${config.temporal.address} (namespace ${config.temporal.namespace})`);
  console.log(`  Data folder       ${config.dataDir}`);
  console.log('');
  console.log('Press Ctrl-C to stop.');
}

main().catch((err: unknown) => {
  console.error(`hookflow failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
