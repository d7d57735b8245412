/**
 * How a webhook step retries, declared once: the configured defaults, a step's overrides (each
 * optional) and the policy a run follows are all these four settings. Config, the flow model and
 * the run plan derive their types from it.
 */
export interface RetrySettings {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** The wait before the second attempt. */
  initialIntervalMs: number;
  /** Each wait is the one before times this. */
  backoffCoefficient: number;
  /** No wait is longer than this. */
  maxIntervalMs: number;
}
