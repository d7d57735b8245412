import type { ProtectionSettings } from '../config';
import type { DestinationLease, DestinationStore } from '../db/destination-store';
import type {
  AttemptVerdict,
  CircuitState,
  DestinationLimits,
  WaitReason,
} from '../shared/destination-guard';
import type { SendResult } from '../webhooks/send';

/** What the gate needs of the running activity: heartbeats while it waits, and its cancellation. */
export interface WaitingActivity {
  heartbeat(): void;
  readonly signal: AbortSignal;
}

export type Entry =
  | { lease: DestinationLease }
  | {
      /** Not now: the run waits on a durable timer until then, without using up a retry. */
      pausedUntilMs: number;
      reason: WaitReason;
    };

/** Waits on a slot it does not know the time of are looked at again at least this often. */
const MAX_POLL_MS = 250;
/** A run whose attempt found no slot within the wait tries again this much later, at least. */
const SLOT_RETRY_MS = 1000;

/** The circuit changed state (the worker counts it as a metric). */
export type TransitionListener = (to: CircuitState) => void;

/**
 * One worker's door to the shared destination state. Attempts to one destination queue in the
 * process, so only the head of the line asks the database; a slot freed in this process wakes it at
 * once. Slots freed by other processes are seen at the next look (at most {@link MAX_POLL_MS}).
 */
export class DestinationGate {
  private readonly lines = new Map<string, Promise<void>>();
  private readonly wakers = new Map<string, () => void>();

  constructor(
    private readonly store: DestinationStore,
    private readonly settings: ProtectionSettings,
    /** How long a slot is held at most: the attempt's timeout and a margin. */
    private readonly leaseMs: number,
    private readonly onTransition?: TransitionListener,
  ) {}

  /**
   * A slot for a request to `origin`, waiting up to the configured wait; or when to come back.
   * `overrides`: the step's own limits over the configured ones; `waitMs`: a shorter wait than the
   * configured one (the first attempt's local activity, which holds its run's workflow task).
   */
  async enter(
    origin: string,
    activity: WaitingActivity,
    overrides?: Partial<DestinationLimits>,
    maxWaitMs?: number,
  ): Promise<Entry> {
    const waitMs = Math.min(this.settings.waitMs, maxWaitMs ?? Infinity);
    const limits: DestinationLimits = { ...this.settings.limits, ...overrides };
    const deadline = Date.now() + waitMs;
    let leave!: () => void;
    const mine = new Promise<void>((resolve) => (leave = resolve));
    const before = this.lines.get(origin) ?? Promise.resolve();
    const tail = before.then(() => mine);
    this.lines.set(origin, tail);
    let timer: NodeJS.Timeout | undefined;
    try {
      const first = await Promise.race([
        before.then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
      ]);
      clearTimeout(timer);
      if (!first) return { pausedUntilMs: Date.now() + SLOT_RETRY_MS, reason: 'concurrency limit' };
      for (;;) {
        if (activity.signal.aborted) throw activity.signal.reason ?? new Error('cancelled');
        activity.heartbeat();
        const got = await this.store.acquire(origin, limits, this.leaseMs);
        if ('lease' in got) {
          if (got.lease.probe) this.onTransition?.('half_open');
          return got;
        }
        const now = Date.now();
        if (got.waitUntilMs > deadline) {
          const soon = got.reason === 'concurrency limit' || got.reason === 'rate limit';
          return {
            pausedUntilMs: soon ? Math.max(got.waitUntilMs, now + SLOT_RETRY_MS) : got.waitUntilMs,
            reason: got.reason,
          };
        }
        await this.nap(origin, Math.min(Math.max(1, got.waitUntilMs - now), MAX_POLL_MS));
      }
    } finally {
      clearTimeout(timer);
      leave();
      if (this.lines.get(origin) === tail) this.lines.delete(origin);
    }
  }

  /** Frees the slot and counts the attempt (when the database refuses, the lease lapses on its own). */
  async leave(origin: string, lease: DestinationLease, verdict: AttemptVerdict): Promise<void> {
    try {
      const to = await this.store.release(lease, verdict, this.settings.breaker);
      if (to) this.onTransition?.(to);
    } finally {
      this.wakers.get(origin)?.();
    }
  }

  private nap(origin: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.set(origin, () => {
        this.wakers.delete(origin);
        done();
      });
    });
  }
}

/**
 * How the breaker counts an attempt: connection failures, timeouts and 5xx say the endpoint is
 * unwell; a 4xx or a 429 says it answers. A 429 or 503 with `Retry-After` holds the destination.
 */
export function verdictOf(result: SendResult, probe: boolean): AttemptVerdict {
  const status = result.httpStatus;
  const verdict: AttemptVerdict = {
    failed: result.class === 'retryable' && (status === undefined || status >= 500),
    probe,
    reason: result.reason,
  };
  if (result.retryAfterMs !== undefined && (status === 429 || status === 503)) {
    verdict.retryAfterMs = result.retryAfterMs;
  }
  return verdict;
}
