import type { EligibilityDeps } from './check-eligibility';
import { createCheckEligibility } from './check-eligibility';
import type { WebhookDeps } from './deliver-webhook';
import { createDeliverWebhook, deliveryIdFor } from './deliver-webhook';
import { createDeliverFirstAttempt } from './first-attempt';
import type { DateSweepDeps } from './sweep-dates';
import { createSweepDateFlow } from './sweep-dates';
import type { FanOutDeps } from './fan-out';
import { createFanOutPriceDropPage } from './fan-out';

export type { EligibilityJudge } from './check-eligibility';
export type { DateFlowSweeper } from './sweep-dates';
export type { PriceDropPager } from './fan-out';

export interface FinalizeDeliveryInput {
  runId: string;
  stepId: string;
  /** For a resend: its own delivery id. */
  deliveryId?: string;
  status: 'failed' | 'skipped';
  reason: string;
}

export type ActivityDeps = WebhookDeps & EligibilityDeps & DateSweepDeps & FanOutDeps;

/** Builds the worker's activities around their collaborators (built once in `src/worker`). */
export function createActivities(deps: ActivityDeps) {
  const webhook = createDeliverWebhook(deps);
  const checkEligibility = createCheckEligibility(deps);
  return {
    deliverWebhook: webhook.deliverWebhook,
    /** A local activity: the first attempt inside the run's workflow task (workflow `flowRunV2`). */
    deliverFirstAttempt: createDeliverFirstAttempt(
      deps.deliveries,
      checkEligibility,
      webhook.attemptDelivery,
    ),
    checkEligibility,
    sweepDateFlow: createSweepDateFlow(deps),
    fanOutPriceDropPage: createFanOutPriceDropPage(deps),
    /** Ends a delivery whose last attempt was never recorded (timeout, worker crash). */
    async finalizeDelivery(input: FinalizeDeliveryInput): Promise<void> {
      const id = input.deliveryId ?? deliveryIdFor(input.runId, input.stepId);
      await deps.deliveries.finalize(id, input.status, input.reason);
      deps.metrics?.delivery(input.status);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
