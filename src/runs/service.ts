import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { Config } from '../config';
import type { DeliveryStore } from '../db/delivery-store';
import type { EventStore } from '../db/event-store';
import type { FlowStore } from '../flows/store';
import { NotFoundError } from '../errors';
import type { Step } from '../flows/model';
import type { RunStepView } from '../shared/delivery-outcome';
import { webhookStepView } from '../shared/delivery-outcome';
import type { RunState, StepState } from '../shared/run-types';
import { runStateQuery } from '../workflows/flow-run';

export interface RunView {
  runId: string;
  flowId: string;
  flowVersion: number;
  /** Temporal's execution status, lower-cased: running, completed, failed, terminated, ... */
  status: string;
  startedAt: string | null;
  closedAt: string | null;
  temporalUrl: string;
  steps: RunStepView[];
}

/** How long a status read waits on Temporal before answering from the database alone. */
const QUERY_DEADLINE_MS = 3000;

/** Reads a run's state from Temporal, enriched with the delivery records the activity writes. */
export class RunService {
  constructor(
    private readonly client: Client,
    private readonly events: EventStore,
    private readonly flows: FlowStore,
    private readonly deliveries: DeliveryStore,
    private readonly config: Config,
  ) {}

  temporalUrl(runId: string): string {
    const { uiUrl, namespace } = this.config.temporal;
    return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(runId)}`;
  }

  async get(runId: string): Promise<RunView> {
    const run = await this.events.getRun(runId);
    if (!run) throw new NotFoundError(`run ${runId}`);
    const handle = this.client.workflow.getHandle(runId);
    let description: WorkflowExecutionDescription | undefined;
    let state: RunState | undefined;
    try {
      description = await this.client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.describe());
      state =
        description.status.name === 'COMPLETED'
          ? ((await handle.result()) as RunState) // kept in history: no worker needed to answer
          : await this.client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(runStateQuery));
    } catch {
      // Temporal or the worker is unavailable: answer from the database below.
    }
    const deliveries = new Map((await this.deliveries.forRun(runId)).map((d) => [d.step_id, d]));
    const steps = state
      ? state.steps
      : flattenSteps((await this.flows.getVersion(run.flow_id, run.flow_version))?.steps ?? []);
    return {
      runId,
      flowId: run.flow_id,
      flowVersion: run.flow_version,
      // Recorded, not yet accepted by Temporal: the run starter has it (queued), or Temporal is unreachable.
      status: description ? description.status.name.toLowerCase() : run.started_at ? 'unknown' : 'queued',
      startedAt: description?.startTime.toISOString() ?? run.started_at,
      closedAt: description?.closeTime?.toISOString() ?? null,
      temporalUrl: this.temporalUrl(runId),
      steps: steps.map((s) => webhookStepView(s, deliveries.get(s.id))),
    };
  }
}

function flattenSteps(steps: readonly Step[], parent?: { id: string; branch: 'yes' | 'no' }): StepState[] {
  return steps.flatMap((s): StepState[] => {
    const st: StepState = { id: s.id, type: s.type, status: 'pending' };
    if (parent) Object.assign(st, { parentId: parent.id, branch: parent.branch });
    if (s.type !== 'split') return [st];
    return [
      st,
      ...flattenSteps(s.yes, { id: s.id, branch: 'yes' }),
      ...flattenSteps(s.no, { id: s.id, branch: 'no' }),
    ];
  });
}
