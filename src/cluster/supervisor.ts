import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** One process the supervisor keeps running. */
export interface ProcessSpec {
  /** Prefix of its log lines, e.g. `worker-2`. */
  name: string;
  /** Starts it with its output piped (stdio `pipe` or cluster's `silent`), so lines get the prefix. */
  start: () => ChildProcess;
}

export interface SupervisorOptions {
  /** Where prefixed log lines go. @default process.stdout */
  out?: Writable;
  /** Delay before the first restart of a crashed process; doubles for each crash in a row. @default 500 */
  initialBackoffMs?: number;
  /** Longest delay between restarts. @default 30000 */
  maxBackoffMs?: number;
  /** A process that ran this long before crashing starts again from the initial delay. @default 30000 */
  stableAfterMs?: number;
  /** Time between SIGTERM and SIGKILL on stop. @default 15000 */
  stopGraceMs?: number;
}

/** A supervised process: the current child and how often it was restarted. */
export class Supervised {
  child: ChildProcess | undefined;
  restarts = 0;
  /** Crashes in a row since the last stable run: the exponent of the backoff. */
  crashesInARow = 0;
  startedAt = 0;
  timer: NodeJS.Timeout | undefined;
  private readonly startedListeners: ((child: ChildProcess) => void)[] = [];

  constructor(readonly spec: ProcessSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Resolves with the next child started (after a crash, the restarted one). */
  nextStart(): Promise<ChildProcess> {
    return new Promise((resolve) => this.startedListeners.push(resolve));
  }

  notifyStarted(child: ChildProcess): void {
    for (const l of this.startedListeners.splice(0)) l(child);
  }
}

const alive = (c: ChildProcess | undefined): c is ChildProcess =>
  c !== undefined && c.exitCode === null && c.signalCode === null;

/**
 * Runs processes, restarts one that exits while the supervisor is running (with exponential
 * backoff, so a process that fails at start does not spin), prefixes each line of their output
 * with their name, and stops them all on {@link stop}: SIGTERM in reverse order of adding (the
 * API and workers before the Temporal server they use), SIGKILL after a grace period.
 */
export class Supervisor {
  private readonly entries: Supervised[] = [];
  private stopping = false;
  private readonly out: Writable;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly stableAfterMs: number;
  private readonly stopGraceMs: number;

  constructor(opts: SupervisorOptions = {}) {
    this.out = opts.out ?? process.stdout;
    this.initialBackoffMs = opts.initialBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.stableAfterMs = opts.stableAfterMs ?? 30_000;
    this.stopGraceMs = opts.stopGraceMs ?? 15_000;
  }

  get processes(): readonly Supervised[] {
    return this.entries;
  }

  /** Starts a process and keeps it running until {@link stop}. */
  add(spec: ProcessSpec): Supervised {
    if (this.stopping) throw new Error('the supervisor is stopping');
    const entry = new Supervised(spec);
    this.entries.push(entry);
    this.launch(entry);
    return entry;
  }

  /** A line of the supervisor's own, with its prefix. */
  log(message: string): void {
    this.out.write(`[supervisor] ${message}\n`);
  }

  private launch(entry: Supervised): void {
    let child: ChildProcess;
    try {
      child = entry.spec.start();
    } catch (err) {
      this.log(`${entry.name} could not start: ${err instanceof Error ? err.message : String(err)}`);
      this.scheduleRestart(entry);
      return;
    }
    entry.child = child;
    entry.startedAt = Date.now();
    for (const stream of [child.stdout, child.stderr]) if (stream) this.prefix(entry.name, stream);
    child.once('error', (err) => this.log(`${entry.name}: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      const ran = Date.now() - entry.startedAt;
      if (ran >= this.stableAfterMs) entry.crashesInARow = 0;
      this.log(`${entry.name} (pid ${child.pid ?? '?'}) exited with ${signal ?? `code ${code}`}`);
      this.scheduleRestart(entry);
    });
    entry.notifyStarted(child);
  }

  private scheduleRestart(entry: Supervised): void {
    if (this.stopping) return;
    const delay = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** entry.crashesInARow);
    entry.crashesInARow++;
    this.log(`restarting ${entry.name} in ${delay} ms`);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.stopping) return;
      entry.restarts++;
      this.launch(entry);
    }, delay);
  }

  private prefix(name: string, stream: Readable): void {
    readline
      .createInterface({ input: stream, crlfDelay: Infinity })
      .on('line', (line) => this.out.write(`[${name}] ${line}\n`));
  }

  /** Stops every process (no more restarts); resolves once all have exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const e of this.entries) if (e.timer) clearTimeout(e.timer);
    for (const e of [...this.entries].reverse()) {
      const child = e.child;
      if (!alive(child)) continue;
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => {
          this.log(`${e.name} did not stop within ${this.stopGraceMs} ms: killing it`);
          child.kill('SIGKILL');
        }, this.stopGraceMs);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
  }

  /** On SIGINT or SIGTERM: stop everything, run `after` (e.g. stop PostgreSQL), exit 0. */
  stopOnSignals(after: () => Promise<void> = () => Promise.resolve()): void {
    let once = false;
    const handler = (signal: NodeJS.Signals) => {
      if (once) return;
      once = true;
      this.log(`${signal}: stopping every process`);
      this.stop()
        .then(after)
        .then(
          () => process.exit(0),
          (err: unknown) => {
            this.log(`stopping failed: ${err instanceof Error ? err.message : String(err)}`);
            process.exit(1);
          },
        );
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  }
}
