import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SEARCH_ATTRIBUTE_FLAGS } from './search-attributes';
import { waitForFrontend } from './wait-for-frontend';

/**
 * Where `make` builds the Temporal CLI (`.tools/` of the repository `root`, by default the one this
 * file was built into); `HOOKFLOW_TEMPORAL_CLI` points elsewhere.
 */
export function temporalCliPath(
  env: NodeJS.ProcessEnv = process.env,
  root: string = path.join(__dirname, '..', '..'),
): string {
  return path.resolve(env.HOOKFLOW_TEMPORAL_CLI ?? path.join(root, '.tools', 'temporal'));
}

export interface DevServerOptions {
  /** Path of the `temporal` binary. @default {@link temporalCliPath} */
  executable?: string;
  /** Interface to bind. @default "127.0.0.1" */
  ip?: string;
  /** Frontend gRPC port. */
  port: number;
  /** Web UI port; no UI when omitted. */
  uiPort?: number;
  /**
   * hookflow's codec endpoint (`<API URL>/codec`), so the Web UI shows payloads decrypted. The dev
   * server has no setting to send credentials with it: each browser turns that on in the UI's
   * Data Encoder settings (README "Encrypted workflow history").
   */
  codecEndpoint?: string;
  /** SQLite file that keeps runs across restarts; in memory when omitted. */
  dbFile?: string;
  /**
   * How the SQLite file is synced (it is always in WAL mode): `normal` at checkpoints (safe from a
   * killed process; a power cut may lose the last commits), `full` at every commit. @default "normal"
   */
  sqliteSync?: 'normal' | 'full';
  namespace?: string;
  /** Where the server's own output goes. @default "ignore" */
  logFile?: string;
  /** How long to wait for the frontend to answer. @default 60000 */
  startTimeoutMs?: number;
}

/** A `temporal server start-dev` child process, with hookflow's search attributes registered. */
export class DevServer {
  private constructor(
    readonly process: ChildProcess,
    readonly address: string,
    readonly uiUrl: string | undefined,
  ) {}

  static async start(opts: DevServerOptions): Promise<DevServer> {
    const executable = opts.executable ?? temporalCliPath();
    if (!fs.existsSync(executable)) {
      throw new Error(`Temporal CLI not found at ${executable}; run "make tools" to build it`);
    }
    const ip = opts.ip ?? '127.0.0.1';
    const args = ['server', 'start-dev', '--ip', ip, '--port', String(opts.port), '--log-level', 'warn'];
    if (opts.uiPort !== undefined) args.push('--ui-port', String(opts.uiPort));
    else args.push('--headless');
    if (opts.uiPort !== undefined && opts.codecEndpoint) args.push('--ui-codec-endpoint', opts.codecEndpoint);
    if (opts.dbFile) {
      fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
      args.push('--db-filename', opts.dbFile);
      // WAL: a commit appends to the log instead of rewriting pages under a rollback journal. With
      // synchronous=NORMAL, light-load delivery latency fell from 150 to 94 ms (p50) on the 2-core
      // machine, deliveries/s rose 1.4× (README "Benchmark"); the same trade-off as hookflow's SQLite.
      args.push('--sqlite-pragma', 'journal_mode=wal');
      args.push('--sqlite-pragma', `synchronous=${opts.sqliteSync ?? 'normal'}`);
    }
    if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
    for (const sa of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', sa);
    // Eager activities: an activity scheduled by a workflow task comes back in the answer to that
    // task's completion, to the same worker, instead of a trip through matching (the cluster's
    // dynamic config has the same, src/cluster/temporal-server.ts). Off by default in the server.
    args.push('--dynamic-config-value', 'system.enableActivityEagerExecution=true');
    // Eager workflow start (an API with its own worker, HOOKFLOW_EAGER_START): on by default in this
    // server, set so that it stays on whatever a later server's default.
    args.push('--dynamic-config-value', 'system.enableEagerWorkflowStart=true');
    // The server also takes HTTP and metrics ports; left to pick free ones themselves.
    const out = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
    const child = spawn(executable, args, { stdio: ['ignore', out, out] });
    if (typeof out === 'number') fs.closeSync(out);
    const address = `${ip}:${opts.port}`;
    const server = new DevServer(
      child,
      address,
      opts.uiPort === undefined ? undefined : `http://${ip}:${opts.uiPort}`,
    );
    await server.waitUntilReady(opts.startTimeoutMs ?? 60_000);
    return server;
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    let exited: string | undefined;
    this.process.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));
    try {
      await waitForFrontend(this.address, timeoutMs, () => exited, 'Temporal dev server');
    } catch (err) {
      this.process.kill('SIGKILL');
      throw err;
    }
  }

  /** Stops the server (SIGTERM, then SIGKILL after a grace period). */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.process;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
