import type { WebhookDeps } from './deliver-webhook';
import { createDeliverWebhook } from './deliver-webhook';

export type ActivityDeps = WebhookDeps;

/** Builds the worker's activities around their collaborators (built once in `src/worker`). */
export function createActivities(deps: ActivityDeps) {
  return {
    deliverWebhook: createDeliverWebhook(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
