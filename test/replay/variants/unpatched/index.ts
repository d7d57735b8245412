// An incompatible change, for the replay suite: flowRun now waits on a timer before walking its
// plan, with no patched() guard. Runs recorded before it cannot replay.
import { sleep } from '@temporalio/workflow';
import type { FlowRunInput, RunState } from '../../../../src/shared/run-types';
import { flowRun as current } from '../../../../src/workflows/flow-run';

export { runStateQuery } from '../../../../src/workflows/flow-run';
export { resendDelivery } from '../../../../src/workflows/resend-delivery';

export async function flowRun(input: FlowRunInput): Promise<RunState> {
  await sleep(10);
  return current(input);
}
