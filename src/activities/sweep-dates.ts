import type { DateSweepInput, DateSweepSummary } from '../shared/run-types';

/**
 * Sweeps one date-property flow for the profiles due since its last sweep and starts their runs.
 * Implemented above this layer (`src/audience/date-sweep.ts`) and given by the worker.
 */
export interface DateFlowSweeper {
  sweep(flowId: string): Promise<DateSweepSummary>;
}

export interface DateSweepDeps {
  /** Absent in workers built without a Temporal client (tests of other activities). */
  dateSweeper?: DateFlowSweeper;
}

export function createSweepDateFlow(deps: DateSweepDeps) {
  return async function sweepDateFlow(input: DateSweepInput): Promise<DateSweepSummary> {
    if (!deps.dateSweeper) throw new Error('this worker has no date sweeper');
    return deps.dateSweeper.sweep(input.flowId);
  };
}
