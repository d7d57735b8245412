import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DateSweepInput, DateSweepSummary } from '../shared/run-types';

const { sweepDateFlow } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/**
 * The action of a date flow's Temporal Schedule: one sweep of the flow. The work (and its
 * idempotence: run ids of flow, profile and occurrence) is in the activity, so the history stays
 * a handful of events however many profiles are due.
 */
export async function dateSweep(input: DateSweepInput): Promise<DateSweepSummary> {
  return sweepDateFlow(input);
}
