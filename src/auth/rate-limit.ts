/**
 * Failed sign-in and code attempts, counted per account and per address: after `maxFailures` in
 * `windowMs`, the key is locked for `lockMs`. In memory, per API process.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, { times: number[]; lockedUntil: number }>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly lockMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until the key may try again; 0 when it may now. */
  lockedFor(key: string): number {
    const e = this.failures.get(key);
    return e ? Math.max(0, e.lockedUntil - this.now()) : 0;
  }

  fail(key: string): void {
    const t = this.now();
    const e = this.failures.get(key) ?? { times: [], lockedUntil: 0 };
    e.times = e.times.filter((x) => x > t - this.windowMs);
    e.times.push(t);
    if (e.times.length >= this.maxFailures) {
      e.lockedUntil = t + this.lockMs;
      e.times = [];
    }
    this.failures.set(key, e);
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}
