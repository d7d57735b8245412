import { RetryState } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities, FinalizeDeliveryInput } from '../activities';
import type { WebhookFailureDetails } from '../shared/run-types';

export interface WebhookEnding {
  status: 'failed' | 'skipped';
  reason: string;
  details?: WebhookFailureDetails;
}

/**
 * Reads how a webhook activity ended without delivery: non-retryable → skipped; anything else
 * that ended the retries (attempts, timeouts) → failed. Rethrows what is not an activity failure.
 */
export function webhookEnding(err: unknown): WebhookEnding {
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  const details = (cause instanceof ApplicationFailure ? cause.details?.[0] : undefined) as
    WebhookFailureDetails | undefined;
  const ending: WebhookEnding = {
    status: err.retryState === RetryState.NON_RETRYABLE_FAILURE ? 'skipped' : 'failed',
    reason: cause?.message ?? err.message,
  };
  if (details) ending.details = details;
  return ending;
}

const { finalizeDelivery } = proxyActivities<Activities>({ startToCloseTimeout: '30s' });

/**
 * When the ending did not come from the activity itself (no details: the last attempt timed out
 * or its worker died), its record may still say pending or retrying: end it.
 */
export async function finalizeIfUnrecorded(
  ending: WebhookEnding,
  input: Omit<FinalizeDeliveryInput, 'status' | 'reason'>,
): Promise<void> {
  if (ending.details) return;
  await finalizeDelivery({ ...input, status: ending.status, reason: ending.reason });
}
