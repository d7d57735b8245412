import type { DeliveryStore } from '../db/delivery-store';
import type { FlowDefinition } from '../flows/model';
import type { FlowStore } from '../flows/store';
import type { Eligibility } from '../shared/eligibility';
import { skipText } from '../shared/eligibility';
import type { CheckEligibilityInput, CheckEligibilityResult } from '../shared/run-types';
import { Lru } from '../lru';
import { deliveryIdFor } from './deliver-webhook';

/**
 * Decides whether a run's profile may still receive its next webhook. Implemented above this
 * layer (`src/audience/eligibility.ts`: profile, list or segment membership, flow filters) and
 * given to the activities by the worker.
 */
export interface EligibilityJudge {
  judge(
    run: { runId: string; flowId: string; profileId: string },
    definition: Pick<FlowDefinition, 'trigger' | 'flowFilters'>,
  ): Promise<Eligibility>;
}

export interface EligibilityDeps {
  flows: FlowStore;
  deliveries: DeliveryStore;
  eligibility: EligibilityJudge;
}

/**
 * The `checkEligibility` activity, run before every webhook step: judged on the run's own flow
 * version; when the profile is no longer eligible the step's delivery is recorded skipped, with
 * the reason and no attempts, so analytics and the run view show it. Throws only on transient
 * errors (the database), which Temporal retries.
 */
export function createCheckEligibility(deps: EligibilityDeps) {
  const versions = new Lru<string, FlowDefinition>(500);
  return async function checkEligibility(input: CheckEligibilityInput): Promise<CheckEligibilityResult> {
    const key = `${input.flowId}@${input.flowVersion}`;
    let def = versions.get(key);
    if (!def) {
      def = await deps.flows.getVersion(input.flowId, input.flowVersion);
      if (def) versions.set(key, def);
    }
    // A version that cannot be found is the delivery's to report ("step no longer exists").
    if (!def) return { eligible: true };
    const verdict = await deps.eligibility.judge(input, def);
    if (verdict.eligible) return { eligible: true };
    const deliveryId = deliveryIdFor(input.runId, input.stepId);
    const reason = skipText(verdict);
    await deps.deliveries.recordSkippedUnsent({
      deliveryId,
      runId: input.runId,
      flowId: input.flowId,
      flowVersion: input.flowVersion,
      stepId: input.stepId,
      profileId: input.profileId,
      reason,
      context: JSON.stringify(input.context),
    });
    return { eligible: false, reason, deliveryId };
  };
}
