import { RetryState } from '@temporalio/common';
import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DeliveryEnding } from '../shared/delivery-outcome';
import { backoffMs, deliveryEnding, policyOf } from '../shared/delivery-outcome';
import type {
  DeliverWebhookInput,
  DestinationPausedDetails,
  FirstAttemptResult,
  RetryPlan,
  WebhookFailureDetails,
} from '../shared/run-types';
import { DESTINATION_PAUSED } from '../shared/run-types';
import {
  eligibilityLocalActivityOptions,
  firstAttemptLocalActivityOptions,
  webhookActivityOptions,
} from './activity-options';

export interface DeliveryResult {
  status: 'delivered' | DeliveryEnding['status'];
  deliveryId?: string;
  attempts?: number;
  httpStatus?: number;
  reason?: string;
}

const { finalizeDelivery } = proxyActivities<Activities>({ startToCloseTimeout: '30s' });
/** The eligibility check as a local activity (flowRun since 'eligibility-local-activity'; the fast path's slow way). */
export const eligibility = proxyLocalActivities<Activities>(eligibilityLocalActivityOptions);

/** The longest a run waits between two looks at a paused destination. */
const MAX_PAUSED_LOOK_MS = 10 * 60_000;

/** The pause an activity failure carries when the destination held the delivery back. */
function pauseOf(err: ActivityFailure): DestinationPausedDetails | undefined {
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== DESTINATION_PAUSED) return undefined;
  return cause.details?.[0] as DestinationPausedDetails | undefined;
}

/**
 * Delivers one webhook through the `deliverWebhook` activity, under the step's retry policy, and
 * reads how it ended (see `src/shared/delivery-outcome.ts`). When the destination is paused (its
 * circuit open, the endpoint's Retry-After hold, no slot in time), the activity says until when:
 * the run sleeps on a durable timer and calls again with the attempts it has left, so waiting uses
 * up no retry. When the last attempt never recorded itself (it timed out, or its worker died), ends
 * the delivery's record. Rethrows anything that is not an activity failure.
 */
export async function deliver(
  activityId: string,
  input: DeliverWebhookInput,
  retry: RetryPlan,
  timeoutMs: number,
  /** Attempts already made (the first one, on the fast path): numbering and budget go on from here. */
  attemptsMade = 0,
): Promise<DeliveryResult> {
  // Histories from before endpoint protection never paused: their one call replays unchanged.
  for (let round = 0, made = attemptsMade, held = 0; ; round++) {
    const options = webhookActivityOptions(
      round === 0 ? activityId : `${activityId}~${round}`,
      // 0 attempts means unlimited to Temporal; else what the attempts made left of the budget; the
      // backoff goes on from where they left it instead of starting over.
      {
        ...retry,
        maxAttempts: retry.maxAttempts > 0 ? Math.max(1, retry.maxAttempts - made) : 0,
        ...(made > 0 ? { initialIntervalMs: backoffMs(policyOf(retry), made + 1) } : {}),
      },
      timeoutMs,
    );
    const outcome = await deliverOnce(options, made === 0 ? input : { ...input, attemptOffset: made }, input);
    if (outcome.status !== 'paused') return outcome;
    made = outcome.pause.attemptsMade;
    // Through a long outage the run looks again at growing intervals (at most every 10 minutes), so
    // its history stays short however long the destination stays paused.
    held = outcome.pause.held ? held + 1 : 0;
    const floor = held > 1 ? Math.min(MAX_PAUSED_LOOK_MS, 1000 * 2 ** Math.min(held, 20)) : 0;
    await sleep(Math.max(1, outcome.pause.untilMs - Date.now(), floor));
  }
}

/**
 * The fast path (workflow `flowRunV2`, issue 18): the eligibility check and the first attempt as
 * one local activity in the run's current workflow task, so a delivery that succeeds at once costs
 * no activity task and no second workflow task. What it returns decides the rest: delivered, or
 * ended (skipped, or failed when the policy allows one attempt) with its record written; retrying:
 * the regular activity goes on from attempt 2 after the wait the record shows (the endpoint's
 * Retry-After, else the policy's first backoff); declined (no slot at once, or the destination
 * paused): the regular activity takes the delivery from attempt 1. When the local activity itself
 * failed, nothing was sent unless it timed out mid-request: the slow path runs, from attempt 2 after
 * a timeout (the first attempt's outcome unknown), else from the eligibility check.
 */
export async function deliverFirst(
  activityId: string,
  input: DeliverWebhookInput,
  retry: RetryPlan,
  timeoutMs: number,
): Promise<DeliveryResult> {
  const { deliverFirstAttempt } = proxyLocalActivities<Activities>(
    firstAttemptLocalActivityOptions(timeoutMs),
  );
  let first: FirstAttemptResult;
  try {
    first = await deliverFirstAttempt({ ...input, retry });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    if (err.cause instanceof TimeoutFailure) return deliver(activityId, input, retry, timeoutMs, 1);
    const verdict = await eligibility.checkEligibility(input);
    if (!verdict.eligible)
      return { status: 'skipped', reason: verdict.reason, deliveryId: verdict.deliveryId, attempts: 0 };
    return deliver(activityId, input, retry, timeoutMs);
  }
  switch (first.kind) {
    case 'delivered':
      return {
        status: 'delivered',
        deliveryId: first.deliveryId,
        attempts: first.attempts,
        httpStatus: first.httpStatus,
      };
    case 'ineligible':
      return { status: 'skipped', reason: first.reason, deliveryId: first.deliveryId, attempts: 0 };
    case 'declined':
      return deliver(activityId, input, retry, timeoutMs, first.attemptsMade);
    case 'failed': {
      if (first.status === 'retrying') {
        await sleep(Math.max(1, first.retryInMs ?? 1));
        return deliver(activityId, input, retry, timeoutMs, first.details.attempt);
      }
      const ended: DeliveryResult = {
        status: first.status,
        reason: first.reason,
        deliveryId: first.details.deliveryId,
        attempts: first.details.attempt,
      };
      if (first.details.httpStatus !== undefined) ended.httpStatus = first.details.httpStatus;
      return ended;
    }
  }
}

async function deliverOnce(
  options: ReturnType<typeof webhookActivityOptions>,
  call: DeliverWebhookInput,
  input: DeliverWebhookInput,
): Promise<DeliveryResult | { status: 'paused'; pause: DestinationPausedDetails }> {
  const { deliverWebhook } = proxyActivities<Activities>(options);
  try {
    const res = await deliverWebhook(call);
    return {
      status: 'delivered',
      deliveryId: res.deliveryId,
      attempts: res.attempts,
      httpStatus: res.httpStatus,
    };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const pause = pauseOf(err);
    if (pause) return { status: 'paused', pause };
    const cause = err.cause;
    const details = (cause instanceof ApplicationFailure ? cause.details?.[0] : undefined) as
      WebhookFailureDetails | undefined;
    const ending = deliveryEnding({
      nonRetryable: err.retryState === RetryState.NON_RETRYABLE_FAILURE,
      reason: cause?.message ?? err.message,
      ...(details ? { details } : {}),
    });
    if (!ending.recorded) {
      await finalizeDelivery({
        runId: input.runId,
        stepId: input.stepId,
        ...(input.resend ? { deliveryId: input.resend.deliveryId } : {}),
        status: ending.status,
        reason: ending.reason,
      });
    }
    const result: DeliveryResult = { status: ending.status, reason: ending.reason };
    if (ending.details) {
      result.deliveryId = ending.details.deliveryId;
      result.attempts = ending.details.attempt;
      if (ending.details.httpStatus !== undefined) result.httpStatus = ending.details.httpStatus;
    }
    return result;
  }
}
