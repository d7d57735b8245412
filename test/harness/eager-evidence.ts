// Test and benchmark support: whether Temporal started a run eagerly, read from the server's own records.
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const { EventType } = temporal.api.enums.v1;

/**
 * True when the run's first workflow task was started by the start request itself (eager start):
 * its WorkflowTaskStarted carries the request id the execution was started with. A task a worker
 * polled carries the poll's request id instead. Undefined while the first task has not started.
 */
export async function firstTaskStartedEagerly(
  client: Client,
  workflowId: string,
): Promise<boolean | undefined> {
  const [described, history] = await Promise.all([
    client.workflowService.describeWorkflowExecution({
      namespace: client.options.namespace,
      execution: { workflowId },
    }),
    client.workflow.getHandle(workflowId).fetchHistory(),
  ]);
  const started = (history.events ?? []).find(
    (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
  );
  const requestId = started?.workflowTaskStartedEventAttributes?.requestId;
  if (!requestId) return undefined;
  const infos = described.workflowExtendedInfo?.requestIdInfos ?? {};
  return infos[requestId]?.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED;
}
