import crypto from 'node:crypto';
import os from 'node:os';
import type { Db } from '../db';
import type { RunRow } from '../db/entry-store';
import { EntryStore } from '../db/entry-store';
import type { Logger } from '../logger';
import type { RunLauncher } from './run-launcher';

/** Runs one poll claims at most, and the most a process holds before it stops taking over more. */
const CLAIM_BATCH = 200;
/** Ids read per hand-off query. */
const LOAD_BATCH = 500;
/** Retries of a start Temporal refused: the first after this long, doubling up to the cap. */
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 5000;

/** The name a process's claims on runs go under: unique per process start. */
export function newClaimant(role: string): string {
  return `${role}:${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
}

/** Where a process hands runs it recorded (and claimed) once their transaction committed. */
export interface RunHandoff {
  add(runIds: readonly string[]): void;
}

export interface RunStartQueueDeps {
  db: Db;
  launcher: Pick<RunLauncher, 'launch'>;
  logger: Logger;
  /** This process's name on its claims; the runs it records carry it already. */
  claimant: string;
  pollMs: number;
  concurrency: number;
  leaseMs: number;
  now?: () => number;
}

/** A run this process holds: loaded, waiting for a start slot or for its next attempt. */
interface Held {
  row: RunRow | undefined;
  attempts: number;
  /** Another process took the claim over (this one's lapsed): not started from here any more. */
  lost: boolean;
}

/**
 * The run starter of an API process. The API answers once a run is recorded; the run is then
 * started here with bounded concurrency, retried with capped backoff until Temporal accepts, and
 * marked started in batches. Runs this process recorded are claimed by their insert and handed
 * over in memory (no polling delay); the poll takes over runs whose claim lapsed (a killed
 * process, a worker whose start failed) and renews the claims of runs held here (Temporal down).
 * Several processes share one database: a run is started by the process holding its claim.
 */
export class RunStartQueue implements RunHandoff {
  private readonly store: EntryStore;
  private readonly now: () => number;
  private readonly held = new Map<string, Held>();
  /** Handed over, not read yet. */
  private readonly incoming: string[] = [];
  private readonly ready: string[] = [];
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly started: string[] = [];
  private inFlight = 0;
  /** Starts failed since the last one that succeeded. */
  private failing = 0;
  private loading?: Promise<void>;
  private marking?: Promise<void>;
  private polling?: Promise<void>;
  private poller?: NodeJS.Timeout;
  private lastRenew = 0;
  private closed = false;
  private onIdle?: () => void;

  constructor(private readonly deps: RunStartQueueDeps) {
    this.store = new EntryStore(deps.db);
    this.now = deps.now ?? Date.now;
  }

  /** Starts polling: at once (runs a previous process left), then every poll interval. */
  start(): void {
    const tick = () => {
      if (this.closed) return;
      this.polling ??= this.poll()
        .then(
          () => undefined,
          (err: unknown) => this.deps.logger.warn({ err }, 'run starter poll failed; retried'),
        )
        .finally(() => (this.polling = undefined));
    };
    tick();
    this.poller = setInterval(tick, this.deps.pollMs);
    this.poller.unref();
  }

  /** Runs this process recorded and claimed, their transaction committed. */
  add(runIds: readonly string[]): void {
    if (this.closed) return; // Left claimed: another process takes them once the claim lapses.
    for (const id of runIds) {
      if (this.held.has(id)) continue;
      this.held.set(id, { row: undefined, attempts: 0, lost: false });
      this.incoming.push(id);
    }
    this.load();
  }

  /** How many runs this process holds and has not started yet. */
  get size(): number {
    return this.held.size;
  }

  /** Resolves once nothing is held, started or being marked here (tests, and the bench's drain). */
  async idle(checkMs = 10): Promise<void> {
    while (
      this.held.size > 0 ||
      this.inFlight > 0 ||
      this.loading ||
      this.marking ||
      this.started.length > 0
    ) {
      await new Promise((r) => setTimeout(r, checkMs));
    }
  }

  /** One poll: renew this process's claims when due, then take over lapsed runs. Public for tests. */
  async poll(): Promise<number> {
    const now = this.now();
    if (this.held.size > 0 && now - this.lastRenew >= this.deps.leaseMs / 3) {
      this.lastRenew = now;
      const ids = [...this.held.keys()];
      const kept = new Set(await this.store.renewClaims(this.deps.claimant, ids, this.until(now)));
      for (const id of ids) {
        const h = this.held.get(id);
        // Not found queued under this claim: started elsewhere, or taken over after a lapse.
        if (h && h.row && !kept.has(id)) h.lost = true;
      }
    }
    const room = CLAIM_BATCH - this.held.size;
    if (room <= 0 || this.closed) return 0;
    const rows = await this.store.claimLapsed(
      this.deps.claimant,
      new Date(now).toISOString(),
      this.until(now),
      room,
    );
    for (const row of rows) {
      const h = this.held.get(row.id);
      if (h) Object.assign(h, { row, lost: false });
      else {
        this.held.set(row.id, { row, attempts: 0, lost: false });
        this.ready.push(row.id);
      }
    }
    if (rows.length > 0) this.deps.logger.info({ runs: rows.length }, 'run starter took over queued runs');
    this.pump();
    return rows.length;
  }

  /**
   * Stops taking runs, waits up to `graceMs` for starts in flight, marks what started, and
   * releases the claims on the rest so another process starts them at once.
   */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    await this.polling;
    await this.loading;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const cut = setTimeout(resolve, graceMs);
        this.onIdle = () => {
          clearTimeout(cut);
          resolve();
        };
      });
    }
    this.flush();
    await this.marking;
    const left = [...this.held.keys()];
    if (left.length > 0) {
      await this.store
        .releaseClaims(this.deps.claimant, left)
        .catch((err: unknown) =>
          this.deps.logger.warn({ err, runs: left.length }, 'run claims not released; they lapse instead'),
        );
    }
  }

  private until(now: number): string {
    return new Date(now + this.deps.leaseMs).toISOString();
  }

  /** Reads handed-over runs in batches, one read at a time (a burst coalesces into few reads). */
  private load(): void {
    if (this.closed || this.loading || this.incoming.length === 0) return;
    this.loading = (async () => {
      while (this.incoming.length > 0 && !this.closed) {
        const ids = this.incoming.splice(0, LOAD_BATCH);
        let rows: RunRow[];
        try {
          rows = await this.store.runs(ids);
        } catch (err) {
          // Left claimed: the poll takes them over once the claim lapses.
          this.deps.logger.warn({ err, runs: ids.length }, 'handed-over runs not read');
          for (const id of ids) this.held.delete(id);
          continue;
        }
        const byId = new Map(rows.map((r) => [r.id, r]));
        for (const id of ids) {
          const row = byId.get(id);
          // Started already, or a repeated event's run that another process holds: not ours.
          if (!row || row.started_at !== null || row.claimed_by !== this.deps.claimant) {
            this.held.delete(id);
            continue;
          }
          this.held.get(id)!.row = row;
          this.ready.push(id);
        }
        this.pump();
      }
    })().finally(() => {
      this.loading = undefined;
      this.load();
    });
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.deps.concurrency && this.ready.length > 0) {
      const id = this.ready.shift()!;
      const h = this.held.get(id);
      if (!h?.row) continue;
      if (h.lost) {
        this.held.delete(id);
        continue;
      }
      this.inFlight++;
      void this.launch(id, h, h.row).finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) this.onIdle?.();
        this.pump();
      });
    }
  }

  private async launch(id: string, h: Held, row: RunRow): Promise<void> {
    try {
      if (await this.deps.launcher.launch(row)) {
        if (this.failing > 0) {
          this.deps.logger.info({ failed: this.failing }, 'Temporal accepts run starts again');
          this.failing = 0;
        }
        this.held.delete(id);
        this.started.push(id);
        this.flush();
        return;
      }
      // Nothing can start it (its event is gone): left claimed, tried again when the claim lapses.
      this.deps.logger.warn({ runId: id }, 'run cannot be started: its event is missing');
      this.held.delete(id);
    } catch (err) {
      h.attempts++;
      const delay = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (h.attempts - 1));
      // One warning when starts begin to fail (Temporal down), then every hundredth: a backlog of
      // thousands would otherwise log thousands of stacks.
      const log = this.failing++ % 100 === 0 ? 'warn' : 'debug';
      this.deps.logger[log](
        { err, runId: id, attempts: h.attempts, retryInMs: delay, failing: this.failing },
        'run start failed; retried',
      );
      if (this.closed) return;
      // Jitter spreads a backlog's retries instead of sending them to Temporal in one wave.
      const t = setTimeout(
        () => {
          this.retries.delete(t);
          this.ready.push(id);
          this.pump();
        },
        delay * (0.5 + Math.random() / 2),
      );
      t.unref();
      this.retries.add(t);
    }
  }

  /**
   * Marks started runs in one write, one write at a time: under load, the starts that finish while
   * a write runs are marked together by the next, so the write lock is not taken per run.
   */
  private flush(): void {
    if (this.marking || this.started.length === 0) return;
    this.marking = (async () => {
      while (this.started.length > 0) {
        const ids = this.started.splice(0, LOAD_BATCH);
        try {
          await this.store.markStarted(ids, new Date(this.now()).toISOString());
        } catch (err) {
          // Unmarked runs are found started on Temporal by whoever claims them next.
          this.deps.logger.warn({ err, runs: ids.length }, 'started runs not marked');
          return;
        }
      }
    })().finally(() => {
      this.marking = undefined;
      this.flush();
    });
  }
}
