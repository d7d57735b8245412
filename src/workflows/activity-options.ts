import type { ActivityOptions } from '@temporalio/workflow';
import type { RetryPlan } from '../shared/run-types';

/** Extra time beyond the HTTP timeout before Temporal gives up on an attempt (e.g. the worker died). */
const ATTEMPT_MARGIN_MS = 15_000;

/** The activity options of one webhook delivery: its retry policy is the step's. */
export function webhookActivityOptions(
  activityId: string,
  retry: RetryPlan,
  timeoutMs: number,
): ActivityOptions {
  return {
    activityId,
    startToCloseTimeout: timeoutMs + ATTEMPT_MARGIN_MS,
    retry: {
      maximumAttempts: retry.maxAttempts,
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: retry.maxIntervalMs,
    },
  };
}
