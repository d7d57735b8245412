/**
 * How a delivery ends, decided in one place. The activity reports each attempt (what the
 * endpoint did, under which retry policy) and records the state this module gives it; the
 * workflow reads how the activity ended through {@link deliveryEnding}; the run view merges the
 * two with {@link webhookStepView}. Pure: workflow code imports it, so it replays too.
 */
import type { RetryPlan as RetrySettings, StepState, WebhookFailureDetails } from './run-types';

/** A delivery's state, declared once: `pending` and `retrying` while attempts go on, then how it ended. */
export const DELIVERY_STATUSES = ['pending', 'retrying', 'delivered', 'failed', 'skipped'] as const;
export type DeliveryState = (typeof DELIVERY_STATUSES)[number];
export type DeliveryEnd = Exclude<DeliveryState, 'pending' | 'retrying'>;

/** The retry policy Temporal applies to the attempts, as the activity sees it (durations in ms). */
export interface AttemptPolicy {
  maximumAttempts?: number;
  initialInterval?: number;
  backoffCoefficient?: number;
  maximumInterval?: number;
}

/** A step's retry plan in the names Temporal's policy uses (durations in ms). */
export function policyOf(retry: RetrySettings): AttemptPolicy {
  return {
    maximumAttempts: retry.maxAttempts,
    initialInterval: retry.initialIntervalMs,
    backoffCoefficient: retry.backoffCoefficient,
    maximumInterval: retry.maxIntervalMs,
  };
}

/** What one attempt did. */
export interface AttemptReport {
  class: 'delivered' | 'retryable' | 'non_retryable';
  /** 1 for the first attempt. */
  attempt: number;
  /** When the attempt ended (ms since the epoch). */
  endedAtMs: number;
  /** Delay the endpoint asked for with `Retry-After`, already bounded. */
  retryAfterMs?: number;
}

// Temporal's defaults for a retry policy field that is not set.
const DEFAULT_INITIAL_INTERVAL_MS = 1000;
const DEFAULT_BACKOFF_COEFFICIENT = 2;

/** The delay Temporal waits after attempt `attempt` before the next one, under `policy`. */
export function backoffMs(policy: AttemptPolicy, attempt: number): number {
  const initial = policy.initialInterval ?? DEFAULT_INITIAL_INTERVAL_MS;
  const delay = initial * (policy.backoffCoefficient ?? DEFAULT_BACKOFF_COEFFICIENT) ** (attempt - 1);
  return Math.min(delay, policy.maximumInterval ?? initial * 100);
}

/**
 * The delivery's state after one attempt: delivered; skipped when it can never succeed; failed
 * when it was the last attempt the policy allows; else retrying, with when the next attempt is due
 * (the endpoint's `Retry-After` if it gave one, which the activity passes on to Temporal).
 */
export function afterAttempt(
  report: AttemptReport,
  policy: AttemptPolicy,
): { status: DeliveryState; nextAttemptAt: string | null } {
  if (report.class === 'delivered') return { status: 'delivered', nextAttemptAt: null };
  if (report.class === 'non_retryable') return { status: 'skipped', nextAttemptAt: null };
  const max = policy.maximumAttempts ?? 0; // 0: unlimited, as in Temporal
  if (max > 0 && report.attempt >= max) return { status: 'failed', nextAttemptAt: null };
  const wait = report.retryAfterMs ?? backoffMs(policy, report.attempt);
  return { status: 'retrying', nextAttemptAt: new Date(report.endedAtMs + wait).toISOString() };
}

/** How the webhook activity ended without delivery, as the workflow sees it. */
export interface ActivityEnd {
  /** Temporal stopped because the failure was non-retryable (not because retries ran out). */
  nonRetryable: boolean;
  /** The failure's message: the last attempt's reason, or Temporal's (e.g. a timeout). */
  reason: string;
  /** Present when the failure came from the activity itself, which recorded its attempt. */
  details?: WebhookFailureDetails;
}

export interface DeliveryEnding {
  status: 'failed' | 'skipped';
  reason: string;
  details?: WebhookFailureDetails;
  /**
   * False when the last attempt never reported (it timed out, or its worker died): its record may
   * still say pending or retrying, and the workflow must end it.
   */
  recorded: boolean;
}

/** Non-retryable → skipped; anything else that ended the retries (attempts, timeouts) → failed. */
export function deliveryEnding(end: ActivityEnd): DeliveryEnding {
  const ending: DeliveryEnding = {
    status: end.nonRetryable ? 'skipped' : 'failed',
    reason: end.reason,
    recorded: end.details !== undefined,
  };
  if (end.details) ending.details = end.details;
  return ending;
}

/** The delivery record as the run view reads it. */
export interface DeliveryFacts {
  id: string;
  status: DeliveryState;
  attempts: number;
  last_http_status: number | null;
  reason: string | null;
  next_attempt_at: string | null;
}

export interface RunStepView extends StepState {
  nextAttemptAt?: string;
}

/**
 * A webhook step as a run shows it. The workflow knows whether the step has ended; the delivery
 * record knows each attempt. While the step runs, the record says whether it is retrying and why.
 */
export function webhookStepView(step: StepState, d: DeliveryFacts | undefined): RunStepView {
  if (step.type !== 'webhook' || !d) return step;
  const view: RunStepView = { ...step, deliveryId: d.id };
  const ended = step.status === 'delivered' || step.status === 'failed' || step.status === 'skipped';
  if (!ended) view.status = d.status === 'pending' ? 'running' : d.status;
  view.attempts = Math.max(step.attempts ?? 0, d.attempts);
  if (d.last_http_status !== null) view.lastHttpStatus = d.last_http_status;
  if (d.reason !== null) view.reason = d.reason;
  if (!ended && d.status === 'retrying' && d.next_attempt_at) view.nextAttemptAt = d.next_attempt_at;
  return view;
}
