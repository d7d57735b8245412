import type { WebhookDeps } from './deliver-webhook';
import { createDeliverWebhook, deliveryIdFor } from './deliver-webhook';

export interface FinalizeDeliveryInput {
  runId: string;
  stepId: string;
  /** For a resend: its own delivery id. */
  deliveryId?: string;
  status: 'failed' | 'skipped';
  reason: string;
}

export type ActivityDeps = WebhookDeps;

/** Builds the worker's activities around their collaborators (built once in `src/worker`). */
export function createActivities(deps: ActivityDeps) {
  return {
    deliverWebhook: createDeliverWebhook(deps),
    /** Ends a delivery whose last attempt was never recorded (timeout, worker crash). */
    async finalizeDelivery(input: FinalizeDeliveryInput): Promise<void> {
      const id = input.deliveryId ?? deliveryIdFor(input.runId, input.stepId);
      await deps.deliveries.finalize(id, input.status, input.reason);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
