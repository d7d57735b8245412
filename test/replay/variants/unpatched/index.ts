// An incompatible change, for the replay suite: flowRun and flowRunV2 now wait on a timer before walking its
// plan, with no patched() guard. Runs recorded before it cannot replay.
import { sleep } from '@temporalio/workflow';
import type { FlowRunInput, RunState } from '../../../../src/shared/run-types';
import { flowRun as current, flowRunV2 as currentV2 } from '../../../../src/workflows/flow-run';

export { runStateQuery } from '../../../../src/workflows/flow-run';
export { resendDelivery } from '../../../../src/workflows/resend-delivery';

export async function flowRun(input: FlowRunInput): Promise<RunState> {
  await sleep(10);
  return current(input);
}

export async function flowRunV2(input: FlowRunInput): Promise<RunState> {
  await sleep(10);
  return currentV2(input);
}
