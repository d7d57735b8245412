import type { ResendInput } from '../shared/run-types';
import { deliver } from './deliver';

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
  const res = await deliver('resend', delivery, input.retry, input.timeoutMs);
  const result: ResendResult = {
    deliveryId: delivery.resend.deliveryId,
    status: res.status,
    attempts: res.attempts ?? 0,
  };
  if (res.status !== 'delivered' && res.reason !== undefined) result.reason = res.reason;
  return result;
}
