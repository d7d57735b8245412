import { RetryState } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DeliveryEnding } from '../shared/delivery-outcome';
import { deliveryEnding } from '../shared/delivery-outcome';
import type { DeliverWebhookInput, RetryPlan, WebhookFailureDetails } from '../shared/run-types';
import { webhookActivityOptions } from './activity-options';

export interface DeliveryResult {
  status: 'delivered' | DeliveryEnding['status'];
  deliveryId?: string;
  attempts?: number;
  httpStatus?: number;
  reason?: string;
}

const { finalizeDelivery } = proxyActivities<Activities>({ startToCloseTimeout: '30s' });

/**
 * Delivers one webhook through the `deliverWebhook` activity, under the step's retry policy, and
 * reads how it ended (see `src/shared/delivery-outcome.ts`). When the last attempt never recorded
 * itself (it timed out, or its worker died), ends the delivery's record. Rethrows anything that is
 * not an activity failure.
 */
export async function deliver(
  activityId: string,
  input: DeliverWebhookInput,
  retry: RetryPlan,
  timeoutMs: number,
): Promise<DeliveryResult> {
  const { deliverWebhook } = proxyActivities<Activities>(
    webhookActivityOptions(activityId, retry, timeoutMs),
  );
  try {
    const res = await deliverWebhook(input);
    return {
      status: 'delivered',
      deliveryId: res.deliveryId,
      attempts: res.attempts,
      httpStatus: res.httpStatus,
    };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
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
