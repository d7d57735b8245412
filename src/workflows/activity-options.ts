import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
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

/**
 * The first attempt as a local activity (deliver.ts, `deliverFirst`): one try only, since a failure
 * falls back to the regular activity and its retry policy. Its timeout covers the eligibility
 * check, the wait for a destination slot, the request and the records.
 */
export function firstAttemptLocalActivityOptions(timeoutMs: number): LocalActivityOptions {
  return {
    startToCloseTimeout: timeoutMs + ATTEMPT_MARGIN_MS,
    retry: { maximumAttempts: 1 },
  };
}

/**
 * The eligibility check before each webhook step: a few database reads. Transient errors (a busy
 * or unavailable database) are retried without limit, backing off to once a minute, so a run
 * waits for its database rather than sending to someone who may no longer be eligible.
 */
export const eligibilityActivityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};

/**
 * The same check as a local activity (flow-run.ts, patch 'eligibility-local-activity'): the same
 * unlimited retries; attempts that back off longer than a minute wait on a durable timer.
 */
export const eligibilityLocalActivityOptions: LocalActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
  localRetryThreshold: '1m',
};

/**
 * One page of a price-drop fan-out: a few hundred profiles entered in one transaction. Retried
 * without limit (a busy database), a page at a time; the cursor makes a retry resume, not repeat.
 */
export const fanOutActivityOptions: ActivityOptions = {
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};
