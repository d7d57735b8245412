import type { Db } from '../db';
import { EntryStore } from '../db/entry-store';
import { BacklogFullError } from '../errors';
import type { Logger } from '../logger';

/** How often each API process counts the runs waiting for Temporal. */
export const BACKLOG_REFRESH_MS = 1000;
/** Seconds a refused caller is told to wait: a few refreshes, time for starts to drain some of it. */
export const BACKLOG_RETRY_AFTER_SECONDS = 5;

/**
 * The runs recorded but not yet started on Temporal (`runs.started_at IS NULL`), counted once per
 * {@link BACKLOG_REFRESH_MS} per API process instead of per request, so admission costs nothing at
 * thousands of requests per second. The bound is therefore soft by at most one interval of intake.
 */
export class RunBacklog {
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      db: Db;
      /** The bound: at this many queued runs, run-starting requests are refused. */
      max: number;
      logger: Logger;
      /** Told of every fresh count (the `hookflow_runs_queued` gauge). */
      onCount?: (queued: number) => void;
      refreshMs?: number;
    },
  ) {}

  /** Runs waiting for Temporal at the last count. */
  get queued(): number {
    return this.count;
  }

  /** Counts now, then every interval until {@link close}. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.deps.refreshMs ?? BACKLOG_REFRESH_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Counts again (one count at a time; a slow database never piles them up). */
  refresh(): Promise<void> {
    this.inFlight ??= this.countNow().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /**
   * Throws {@link BacklogFullError} when the backlog is at its bound; `what` says, for the message,
   * what was not stored and how to send it again.
   */
  admit(what: { notStored: string; again: string }): void {
    if (this.count < this.deps.max) return;
    throw new BacklogFullError(
      `${what.notStored} was NOT stored: ${this.count} runs are waiting for Temporal (the limit is ${this.deps.max}). ` +
        `Send it again after ${BACKLOG_RETRY_AFTER_SECONDS} s; ${what.again}`,
      this.count,
      this.deps.max,
      BACKLOG_RETRY_AFTER_SECONDS,
    );
  }

  private async countNow(): Promise<void> {
    try {
      this.count = await new EntryStore(this.deps.db).countQueued();
      this.deps.onCount?.(this.count);
    } catch (err) {
      // The last count stands; the database being down is reported by /ready.
      this.deps.logger.warn({ err }, 'run backlog not counted; the last count stands');
    }
  }
}
