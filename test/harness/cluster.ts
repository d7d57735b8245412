// Test and benchmark support: a real Temporal cluster on loopback. Not part of the build of the API or worker.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { PostgresCluster } from '../../src/cluster/postgres';
import { findPostgresBin, startPostgres } from '../../src/cluster/postgres';
import type { TemporalServerOptions } from '../../src/cluster/temporal-server';
import {
  freeTemporalPorts,
  prepareNamespace,
  setupTemporalSchemas,
  spawnTemporalServer,
  writeDynamicConfig,
} from '../../src/cluster/temporal-server';
import { waitForFrontend } from '../../src/temporal/wait-for-frontend';
import { clusterToolPaths, requireServerTools } from '../../src/cluster/tools';
import { ARTIFACTS, ROOT } from './stack';

export interface TestClusterOptions {
  /** A name for the log file under test-artifacts/. */
  name: string;
  /** @default 8 */
  historyShards?: number;
  /** @default "hookflow-test" */
  namespace?: string;
  /** PostgreSQL with fsync on, as in production (benchmarks); tests trade it for speed. @default false */
  durable?: boolean;
}

/**
 * What `make start-cluster` runs, thrown away after: a PostgreSQL cluster in a temporary folder,
 * the Temporal schemas, the Temporal server (every service in one process) on free ports, the
 * namespace with hookflow's search attributes. Hand `address`/`namespace` to `Stack.start`.
 */
export class TestCluster {
  private constructor(
    readonly pg: PostgresCluster,
    public server: ChildProcess,
    readonly address: string,
    readonly namespace: string,
    private readonly dir: string,
    private readonly serverOptions: TemporalServerOptions,
    private readonly logFile: string,
  ) {}

  static async start(opts: TestClusterOptions): Promise<TestCluster> {
    // Fails loudly when the binaries are missing: `make test` builds them (make cluster-tools).
    const tools = clusterToolPaths(ROOT);
    requireServerTools(tools);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hookflow-cluster-${opts.name}-`));
    const pg = await startPostgres({ fast: !opts.durable });
    let server: ChildProcess | undefined;
    try {
      await setupTemporalSchemas(tools.sqlTool, pg);
      await pg.createDatabase('hookflow');
      const ports = await freeTemporalPorts();
      const dynamicConfigFile = path.join(dir, 'dynamic-config.yaml');
      writeDynamicConfig(dynamicConfigFile);
      const serverOptions: TemporalServerOptions = {
        executable: tools.server,
        postgres: { host: '127.0.0.1', port: pg.port, user: 'postgres' },
        ports,
        historyShards: opts.historyShards ?? 8,
        dynamicConfigFile,
      };
      const child = spawnTemporalServer(serverOptions);
      server = child;
      const logFile = path.join(ARTIFACTS, `${opts.name}-temporal.log`);
      fs.writeFileSync(logFile, '');
      for (const s of [child.stdout, child.stderr])
        s?.on('data', (b: Buffer) => fs.appendFileSync(logFile, b));
      let exited: string | undefined;
      child.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}; see ${logFile}`));
      const address = `127.0.0.1:${ports.frontend}`;
      await waitForFrontend(address, 120_000, () => exited);
      const namespace = opts.namespace ?? 'hookflow-test';
      await prepareNamespace(address, namespace);
      return new TestCluster(pg, child, address, namespace, dir, serverOptions, logFile);
    } catch (err) {
      server?.kill('SIGKILL');
      await pg.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Kills the Temporal server (SIGKILL, as a crash would) and starts it again on the same
   * PostgreSQL and ports; resolves once its frontend answers (the fault suite, bench/chaos.ts).
   */
  async restartServer(): Promise<void> {
    const old = this.server;
    if (old.exitCode === null && old.signalCode === null) {
      await new Promise<void>((resolve) => {
        old.once('exit', () => resolve());
        old.kill('SIGKILL');
      });
    }
    const child = spawnTemporalServer(this.serverOptions);
    for (const s of [child.stdout, child.stderr])
      s?.on('data', (b: Buffer) => fs.appendFileSync(this.logFile, b));
    let exited: string | undefined;
    child.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}; see ${this.logFile}`));
    this.server = child;
    await waitForFrontend(this.address, 120_000, () => exited);
  }

  /**
   * Stops PostgreSQL (immediate shutdown: connections cut, as a crash would) for `ms`, then starts
   * it again on the same data, port and settings.
   */
  async pausePostgres(ms: number): Promise<void> {
    const base = path.dirname(this.pg.dataDir);
    const bin = findPostgresBin();
    if (!bin) throw new Error('PostgreSQL is not installed');
    const pgCtl = (args: string[]) => {
      const [cmd, argv] =
        process.getuid?.() === 0
          ? ['runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), ...args]]
          : [path.join(bin, 'pg_ctl'), args];
      const r = spawnSync(cmd, argv, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`pg_ctl ${args.join(' ')}: ${r.stderr}`);
    };
    const settings = this.pgSettings();
    pgCtl(['-D', this.pg.dataDir, '-m', 'immediate', '-w', 'stop']);
    await new Promise((r) => setTimeout(r, ms));
    pgCtl([
      '-D',
      this.pg.dataDir,
      '-o',
      settings,
      '-l',
      path.join(base, 'postgres.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** The options the cluster's postgres was started with (its command line, from postmaster.opts). */
  private pgSettings(): string {
    const opts = fs.readFileSync(path.join(this.pg.dataDir, 'postmaster.opts'), 'utf8').trim();
    // e.g. /usr/lib/postgresql/15/bin/postgres "-D" "/tmp/…/data" "-p" "5433" …: keep what follows -D <dir>.
    const args = [...opts.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    const rest: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '-D') i++;
      else rest.push(args[i]!.includes(' ') ? `'${args[i]!}'` : args[i]!);
    }
    return rest.join(' ');
  }

  /** A database on the cluster's PostgreSQL (`hookflow` exists). */
  databaseUrl(database: string): string {
    return this.pg.url(database);
  }

  async stop(): Promise<void> {
    const child = this.server;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    await this.pg.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
