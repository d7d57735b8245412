// The same change made safely: behind patched(), new runs wait on the timer and runs recorded
// before it replay as they ran. (Once no such run is left: deprecatePatch(), then remove both.)
import { patched, sleep } from '@temporalio/workflow';
import type { FlowRunInput, RunState } from '../../../../src/shared/run-types';
import { flowRun as current, flowRunV2 as currentV2 } from '../../../../src/workflows/flow-run';

export { runStateQuery } from '../../../../src/workflows/flow-run';
export { resendDelivery } from '../../../../src/workflows/resend-delivery';

export async function flowRun(input: FlowRunInput): Promise<RunState> {
  if (patched('wait-before-walking')) await sleep(10);
  return current(input);
}

export async function flowRunV2(input: FlowRunInput): Promise<RunState> {
  if (patched('wait-before-walking')) await sleep(10);
  return currentV2(input);
}
