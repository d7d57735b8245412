import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ResendInput } from '../shared/run-types';
import { webhookActivityOptions } from './activity-options';
import { finalizeIfUnrecorded, webhookEnding } from './webhook-outcome';

export interface ResendResult {
  deliveryId: string;
  status: 'delivered' | 'failed' | 'skipped';
  attempts: number;
  reason?: string;
}

/**
 * A resend a user asked for: one delivery of the step as it is now, with the original's context,
 * under the step's retry policy. Its workflow id is derived from the original, so a resend that is
 * still running is never started twice.
 */
export async function resendDelivery(input: ResendInput): Promise<ResendResult> {
  const { delivery } = input;
  const { deliverWebhook } = proxyActivities<Activities>(
    webhookActivityOptions('resend', delivery.retry, input.timeoutMs),
  );
  const deliveryId = delivery.resend.deliveryId;
  try {
    const res = await deliverWebhook(delivery);
    return { deliveryId, status: 'delivered', attempts: res.attempts };
  } catch (err) {
    const ending = webhookEnding(err);
    await finalizeIfUnrecorded(ending, { runId: delivery.runId, stepId: delivery.stepId, deliveryId });
    return {
      deliveryId,
      status: ending.status,
      attempts: ending.details?.attempt ?? 0,
      reason: ending.reason,
    };
  }
}
