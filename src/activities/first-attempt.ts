import { Context } from '@temporalio/activity';
import type { DeliveryStore } from '../db/delivery-store';
import { policyOf } from '../shared/delivery-outcome';
import type {
  CheckEligibilityInput,
  CheckEligibilityResult,
  DeliverWebhookInput,
  FirstAttemptInput,
  FirstAttemptResult,
} from '../shared/run-types';
import type { AttemptCall, AttemptEnd } from './deliver-webhook';
import { deliveredResult, failureDetails } from './deliver-webhook';

/**
 * How long the first attempt waits for a slot at its destination. It holds its run's workflow task
 * (and cannot heartbeat), so briefly; a delivery that must wait longer is handed to the regular
 * activity, which waits heartbeating and, beyond its own wait, on a durable timer.
 */
export const FIRST_ATTEMPT_WAIT_MS = 1000;

/**
 * The `deliverFirstAttempt` local activity (issue 18): the eligibility check and the first attempt
 * in one call, in the worker that holds the run's workflow task, so a delivery that succeeds at once
 * costs one workflow task and no activity task. It records exactly as the `deliverWebhook` activity
 * does (the same attempt code), and returns how the attempt ended instead of throwing, so the run
 * decides what follows: nothing, or the regular activity from attempt 2 (or 1 when nothing was sent).
 * Throws only when nothing was sent (the database refused a read), for the run to take the slow path.
 */
export function createDeliverFirstAttempt(
  deliveries: Pick<DeliveryStore, 'attemptsUsed'>,
  checkEligibility: (input: CheckEligibilityInput) => Promise<CheckEligibilityResult>,
  attemptDelivery: (input: DeliverWebhookInput, call: AttemptCall) => Promise<AttemptEnd>,
) {
  return async function deliverFirstAttempt(input: FirstAttemptInput): Promise<FirstAttemptResult> {
    const ctx = Context.current();
    const { retry, ...delivery } = input;
    const verdict = await checkEligibility(delivery);
    if (!verdict.eligible)
      return { kind: 'ineligible', reason: verdict.reason, deliveryId: verdict.deliveryId };
    const end = await attemptDelivery(delivery, {
      attempt: 1,
      ofThisCall: 1,
      policy: policyOf(retry),
      // A local activity does not heartbeat: its wait is bounded instead.
      activity: { heartbeat: () => {}, signal: ctx.cancellationSignal },
      waitMs: FIRST_ATTEMPT_WAIT_MS,
      // Run again after its worker died mid-send, it starts over at 1: a begun attempt is not reused.
      fresh: true,
    });
    if (end.kind === 'paused') {
      // Nothing sent. An earlier run of this local activity may have begun attempts (a dead worker's
      // request, outcome unknown): the regular activity numbers on after them, so they stay flagged.
      const attemptsMade = await deliveries.attemptsUsed(end.paused.deliveryId);
      return { kind: 'declined', reason: end.paused.reason, attemptsMade };
    }
    if (end.result.class === 'delivered') return { kind: 'delivered', ...deliveredResult(end) };
    const status = end.status === 'retrying' || end.status === 'failed' ? end.status : 'skipped';
    const failed: FirstAttemptResult = {
      kind: 'failed',
      status,
      reason: end.result.reason,
      details: failureDetails(end),
    };
    // The wait the attempt's record shows: its next attempt time, from the endpoint's Retry-After or the policy.
    if (end.nextAttemptAt !== null)
      failed.retryInMs = Math.max(1, Date.parse(end.nextAttemptAt) - Date.now());
    return failed;
  };
}
