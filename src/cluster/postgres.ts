import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A PostgreSQL cluster of Debian's `postgresql` package run as a plain process: `initdb` into a
 * folder, `pg_ctl start` on a loopback port. Used by the test harness (a throwaway cluster per
 * run) and by `make start-cluster` (a cluster kept in the data folder). PostgreSQL refuses to run
 * as root, so as root the folder is given to the `postgres` user and the binaries run as it.
 */
export interface PostgresCluster {
  readonly port: number;
  readonly dataDir: string;
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (trust authentication on loopback). */
  url(database?: string): string;
  /** Creates a database unless it exists. */
  createDatabase(name: string): Promise<void>;
  /** Stops the server (fast shutdown); removes the folder when the cluster was a throwaway one. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Keep the cluster here (created when missing). Without it: a temporary folder, removed on stop. */
  dataDir?: string;
  /** Default: a free port. */
  port?: number;
  /** Trade durability for speed (fsync off): for throwaway clusters in tests. Default: true when throwaway. */
  fast?: boolean;
  /** Default 300: the Temporal server and several hookflow processes each hold a pool. */
  maxConnections?: number;
}

/** The folder holding `initdb`/`pg_ctl`/`psql`, or undefined when PostgreSQL is not installed. */
export function findPostgresBin(): string | undefined {
  const fromEnv = process.env.HOOKFLOW_PG_BIN;
  if (fromEnv) return fs.existsSync(path.join(fromEnv, 'initdb')) ? fromEnv : undefined;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as `postgres` when we are root; throws with its output on failure. */
function runPg(bin: string, args: string[]): string {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${path.basename(bin)} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

function giveToPostgres(dir: string): void {
  if (!isRoot()) return;
  const r = spawnSync('chown', ['-R', 'postgres:postgres', dir]);
  if (r.status !== 0) throw new Error(`chown postgres ${dir} failed: ${r.stderr.toString()}`);
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresCluster> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error(
      'PostgreSQL is not installed: run "bash scripts/doctor.sh --install test" (make test does), or apt-get install postgresql',
    );
  }
  const throwaway = opts.dataDir === undefined;
  const base = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-pg-'));
  const dataDir = path.join(base, 'data');
  const socketDir = path.join(base, 'socket');
  fs.mkdirSync(socketDir, { recursive: true });
  if (isRoot()) fs.chmodSync(base, 0o755);
  giveToPostgres(base);
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    runPg(path.join(bin, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-instructions',
    ]);
  }
  const port = opts.port ?? (await freePort());
  const fast = opts.fast ?? throwaway;
  const settings = [
    `-p ${port}`,
    `-k ${socketDir}`,
    `-c listen_addresses=127.0.0.1`,
    `-c max_connections=${opts.maxConnections ?? 300}`,
    ...(fast ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
  ].join(' ');
  runPg(path.join(bin, 'pg_ctl'), [
    '-D',
    dataDir,
    '-o',
    settings,
    '-l',
    path.join(base, 'postgres.log'),
    '-w',
    '-t',
    '60',
    'start',
  ]);
  const url = (database = 'postgres'): string => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    port,
    dataDir,
    url,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const psql = path.join(bin, 'psql');
      const q = (sql: string) =>
        runPg(psql, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-tAc', sql]);
      if (q(`select 1 from pg_database where datname = '${name}'`).trim() !== '1')
        q(`create database ${name}`);
      await Promise.resolve();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => {
        const [cmd, argv] = isRoot()
          ? [
              'runuser',
              ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), '-D', dataDir, '-m', 'fast', '-w', 'stop'],
            ]
          : [path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']];
        spawn(cmd, argv, { stdio: 'ignore' })
          .on('exit', () => resolve())
          .on('error', () => resolve());
      });
      if (throwaway) fs.rmSync(base, { recursive: true, force: true });
    },
  };
}
