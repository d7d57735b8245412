import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { FlowRunInput, PriceDropFanOutInput, ResendInput } from '../shared/run-types';
import { priceDropFanOutId } from '../shared/run-types';
import { flowRunV2, priceDropFanOut, resendDelivery } from '../workflows';
import { FLOW_ID, FLOW_VERSION, METRIC } from './search-attributes';

/**
 * The one place that starts workflows. Started by function, not by name: the workflow type is the
 * function's name and its arguments are type-checked, so renaming a workflow or changing its input
 * fails to compile here instead of failing at run time in the worker.
 */
export class RunStarter {
  /**
   * `onFlowRunStarted` is told of each flow run Temporal accepted (the runs-started metric), and
   * whether its first workflow task came back in the answer. `eagerStart` asks for that: the client
   * must then be on the NativeConnection of a worker of this process polling `taskQueue`, which the
   * SDK checks (it throws otherwise); with no free workflow-task slot there, the start is a normal one.
   */
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly onFlowRunStarted: (eagerly: boolean) => void = () => {},
    private readonly eagerStart = false,
  ) {}

  /**
   * Starts the run of one flow for one event, list join or segment entry; its workflow id is the
   * run id. `metric` (metric runs only) is set as a search attribute. New runs are `flowRunV2` (the
   * first attempt of each webhook on the fast path, issue 18); runs started as `flowRun` end on it.
   */
  async flowRun(input: FlowRunInput, metric?: string): Promise<WorkflowHandle<typeof flowRunV2>> {
    const handle = await this.client.workflow.start(flowRunV2, {
      workflowId: input.runId,
      taskQueue: this.taskQueue,
      args: [input],
      // A run id is started once, ever: a repeated event must never run a flow twice.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: FLOW_ID, value: input.flowId },
        { key: FLOW_VERSION, value: input.flowVersion },
        ...(metric === undefined ? [] : [{ key: METRIC, value: metric }]),
      ],
      ...(this.eagerStart ? { requestEagerStart: true } : {}),
    });
    this.onFlowRunStarted(handle.eagerlyStarted);
    return handle;
  }

  /** Starts a resend of delivery `originalId`: one resend of a delivery runs at a time. */
  resendDelivery(input: ResendInput, originalId: string): Promise<WorkflowHandle<typeof resendDelivery>> {
    return this.client.workflow.start(resendDelivery, {
      workflowId: `resend_${originalId}`,
      taskQueue: this.taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    });
  }

  /**
   * Starts the fan-out of one price drop into one flow; its id is fixed per (flow, drop), so a
   * second start (the sweep after a lost reply) fails with WorkflowExecutionAlreadyStartedError.
   */
  priceDropFanOut(input: PriceDropFanOutInput): Promise<WorkflowHandle<typeof priceDropFanOut>> {
    return this.client.workflow.start(priceDropFanOut, {
      workflowId: priceDropFanOutId(input),
      taskQueue: this.taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [{ key: FLOW_ID, value: input.flowId }],
    });
  }
}
