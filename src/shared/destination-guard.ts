/**
 * Endpoint protection, decided in one place: per destination (scheme, host and port) a
 * concurrency limit, a token bucket, a hold the endpoint asked for with `Retry-After`, and a
 * circuit breaker. Pure: the destination store (src/db/destination-store.ts) reads a destination's
 * state in a transaction, asks these functions what to do, and writes what they return, so every
 * worker process shares one state.
 */

/** The circuit of a destination, declared once. */
export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

/** How much traffic a destination takes. */
export interface DestinationLimits {
  /** Requests in flight at once, over every worker process. */
  concurrency: number;
  /** Requests started per second (a token bucket holding one second's worth); 0: unlimited. */
  ratePerSecond: number;
}

/** When the circuit opens and how long it stays open. */
export interface BreakerSettings {
  /** The window failures are counted over. */
  windowMs: number;
  /** Attempts in the window below which the circuit never opens. */
  minAttempts: number;
  /** Share of failed attempts (0–1) in the window at which it opens. */
  failureRatio: number;
  /** How long it stays open before one probe is let through. */
  cooldownMs: number;
}

/** A destination's shared state (times in ms since the epoch). */
export interface DestinationState {
  circuit: CircuitState;
  /** When the circuit opened (kept while it re-opens after failed probes); null when closed. */
  openedAt: number | null;
  /** Why it opened, in a sentence; null when closed. */
  reason: string | null;
  /** When an open circuit lets its probe through. */
  reopenAt: number | null;
  /** Half-open: the probe's lease ends then (a killed worker's probe is taken over after it). */
  probeUntil: number | null;
  /** The endpoint asked (429 or 503 with `Retry-After`) for no request before this. */
  holdUntil: number | null;
  tokens: number;
  tokensAt: number;
}

/** Why an attempt waits. */
export type WaitReason =
  | 'circuit open'
  | 'probe in flight'
  | 'held by Retry-After'
  | 'concurrency limit'
  | 'rate limit'
  /** The shared state could not be read (the database refused): wait rather than send unguarded. */
  | 'protection state unavailable';

export type Admission =
  { go: true; probe: boolean; next: DestinationState } | { go: false; untilMs: number; reason: WaitReason };

/** A new destination: closed, its bucket full. */
export function freshDestination(limits: DestinationLimits, nowMs: number): DestinationState {
  return {
    circuit: 'closed',
    openedAt: null,
    reason: null,
    reopenAt: null,
    probeUntil: null,
    holdUntil: null,
    tokens: bucketSize(limits),
    tokensAt: nowMs,
  };
}

/** The bucket holds one second's worth of requests (at least one). */
export function bucketSize(limits: DestinationLimits): number {
  return Math.max(1, limits.ratePerSecond);
}

/** The tokens in the bucket at `nowMs`: refilled at the rate since it was last read, never over its size. */
export function refill(tokens: number, tokensAt: number, nowMs: number, limits: DestinationLimits): number {
  const elapsed = Math.max(0, nowMs - tokensAt);
  return Math.min(bucketSize(limits), tokens + (elapsed / 1000) * limits.ratePerSecond);
}

/** How long until the bucket holds one token again, in ms (0 when it does). */
export function tokenWaitMs(tokens: number, limits: DestinationLimits): number {
  if (tokens >= 1) return 0;
  return Math.ceil(((1 - tokens) / limits.ratePerSecond) * 1000);
}

/** How soon an attempt that waits for a slot (not a time it knows) looks again. */
const SLOT_RECHECK_MS = 100;
/** How soon an attempt that waits for the half-open probe looks again. */
const PROBE_RECHECK_MS = 1000;

/**
 * May an attempt start now? `inFlight` counts the destination's live leases. The order matters: a
 * paused circuit or the endpoint's hold come before slots and tokens, so a waiting attempt takes
 * neither. An open circuit whose cool-down has passed lets exactly one attempt through (the store
 * holds the destination's row while it decides, so two workers cannot both probe).
 */
export function admit(
  state: DestinationState,
  inFlight: number,
  limits: DestinationLimits,
  leaseMs: number,
  nowMs: number,
): Admission {
  let probe = false;
  let next: DestinationState = { ...state };
  if (state.circuit === 'open') {
    if (state.reopenAt !== null && nowMs < state.reopenAt) {
      return { go: false, untilMs: state.reopenAt, reason: 'circuit open' };
    }
    probe = true;
  } else if (state.circuit === 'half_open') {
    if (state.probeUntil !== null && nowMs < state.probeUntil) {
      // The probe usually answers long before its lease ends: look again soon.
      return {
        go: false,
        untilMs: Math.min(state.probeUntil, nowMs + PROBE_RECHECK_MS),
        reason: 'probe in flight',
      };
    }
    probe = true; // the last probe's lease lapsed (its worker died): this one takes over
  }
  if (state.holdUntil !== null && nowMs < state.holdUntil) {
    return { go: false, untilMs: state.holdUntil, reason: 'held by Retry-After' };
  }
  if (inFlight >= limits.concurrency) {
    return { go: false, untilMs: nowMs + SLOT_RECHECK_MS, reason: 'concurrency limit' };
  }
  if (limits.ratePerSecond > 0) {
    const tokens = refill(state.tokens, state.tokensAt, nowMs, limits);
    const wait = tokenWaitMs(tokens, limits);
    if (wait > 0) return { go: false, untilMs: nowMs + wait, reason: 'rate limit' };
    next = { ...next, tokens: tokens - 1, tokensAt: nowMs };
  }
  if (probe) next = { ...next, circuit: 'half_open', probeUntil: nowMs + leaseMs };
  return { go: true, probe, next };
}

/** What one attempt did, as the breaker counts it. */
export interface AttemptVerdict {
  /** A failure that says the endpoint is unwell: connection refused or reset, timeout, 5xx. */
  failed: boolean;
  /** The attempt was the half-open probe. */
  probe: boolean;
  /** The endpoint asked for a pause (429 or 503 with `Retry-After`), in ms. */
  retryAfterMs?: number;
  /** The attempt's reason (kept as the circuit's reason when it opens). */
  reason: string;
  /** Cancelled before the endpoint answered (the worker stopping): says nothing of the endpoint. */
  cancelled?: boolean;
}

/** Attempts and failures of a destination over the breaker's window. */
export interface WindowCounts {
  attempts: number;
  failures: number;
}

/** The sustained failure the circuit opens on. */
export function shouldOpen(window: WindowCounts, settings: BreakerSettings): boolean {
  return (
    window.attempts >= settings.minAttempts && window.failures >= window.attempts * settings.failureRatio
  );
}

export interface AfterAttempt {
  next: DestinationState;
  /** The circuit changed state. */
  transition?: CircuitState;
}

/**
 * The destination after an attempt ended. `window` (counts including this attempt) is only
 * needed when a closed circuit sees a failure; the store reads it only then.
 */
export function afterDestinationAttempt(
  state: DestinationState,
  verdict: AttemptVerdict,
  window: WindowCounts | undefined,
  settings: BreakerSettings,
  nowMs: number,
): AfterAttempt {
  let next: DestinationState = { ...state };
  if (verdict.retryAfterMs !== undefined && verdict.retryAfterMs > 0) {
    next.holdUntil = Math.max(state.holdUntil ?? 0, nowMs + verdict.retryAfterMs);
  }
  if (verdict.probe && verdict.cancelled) {
    // The probe never got an answer: the next attempt probes at once.
    return { next: { ...next, circuit: 'open', reopenAt: nowMs, probeUntil: null }, transition: 'open' };
  }
  if (verdict.probe) {
    if (!verdict.failed) return { next: closed(next), transition: 'closed' };
    next = { ...next, circuit: 'open', reopenAt: nowMs + settings.cooldownMs, probeUntil: null };
    next.reason = `the probe failed: ${verdict.reason}`;
    return { next, transition: 'open' };
  }
  if (state.circuit === 'closed' && verdict.failed && window && shouldOpen(window, settings)) {
    const pct = Math.round((window.failures / window.attempts) * 100);
    next = {
      ...next,
      circuit: 'open',
      openedAt: nowMs,
      reopenAt: nowMs + settings.cooldownMs,
      probeUntil: null,
      reason: `${window.failures} of ${window.attempts} attempts failed (${pct}%) within ${Math.round(settings.windowMs / 60_000)} min; last: ${verdict.reason}`,
    };
    return { next, transition: 'open' };
  }
  return { next };
}

/** The circuit closed (a probe succeeded, or a person resumed it). */
export function closed(state: DestinationState): DestinationState {
  return { ...state, circuit: 'closed', openedAt: null, reason: null, reopenAt: null, probeUntil: null };
}

/** The key of a destination: scheme, host and port (the default port spelled out). */
export function destinationOrigin(url: string): string | undefined {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '');
    return `${u.protocol}//${u.hostname}:${port}`;
  } catch {
    return undefined;
  }
}
