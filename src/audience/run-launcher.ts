import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db';
import type { RunRow } from '../db/entry-store';
import { EventStore } from '../db/event-store';
import type { Flow } from '../flows/model';
import { buildPlan } from '../flows/plan';
import { FlowStore } from '../flows/store';
import type { FlowRunInput, RunContext } from '../shared/run-types';
import type { RunStarter } from '../temporal/run-starter';
import { buildContext } from '../templates/context';

export interface RunLauncherDeps {
  db: Db;
  starter: RunStarter;
  config: Config;
}

/** Starts one recorded run on Temporal, its workflow id the run id: the same run is started once, ever. */
export class RunLauncher {
  private readonly flows: FlowStore;
  private readonly versions = new Map<string, Flow['steps']>();

  constructor(private readonly deps: RunLauncherDeps) {
    this.flows = new FlowStore(deps.db);
  }

  /**
   * True once Temporal holds the run (started now or before); false when nothing can start it
   * (its event is gone). Throws what Temporal answered otherwise, for the caller to retry.
   */
  async launch(run: RunRow): Promise<boolean> {
    let context: RunContext;
    let metric: string | undefined;
    if (run.context !== null) {
      context = JSON.parse(run.context) as RunContext;
    } else if (run.event_id !== null) {
      const event = await new EventStore(this.deps.db).getEvent(run.event_id);
      if (!event) return false;
      context = buildContext(event.profile, event.properties, event.profileId);
      metric = event.metric;
    } else {
      return false;
    }
    const input: FlowRunInput = {
      runId: run.id,
      flowId: run.flow_id,
      flowVersion: run.flow_version,
      profileId: run.profile_id ?? String(context.person.id),
      eventId: run.event_id,
      context,
      plan: buildPlan(
        await this.steps(run),
        this.deps.config.webhook.retry,
        this.deps.config.webhook.timeoutMs,
      ),
    };
    try {
      await this.deps.starter.flowRun(input, metric);
    } catch (err) {
      // Started before (by another starter, or before a crash cut the mark short).
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    return true;
  }

  private async steps(run: RunRow): Promise<Flow['steps']> {
    const key = `${run.flow_id}@${run.flow_version}`;
    let steps = this.versions.get(key);
    if (!steps) {
      steps = (await this.flows.getVersion(run.flow_id, run.flow_version))?.steps ?? [];
      this.versions.set(key, steps);
    }
    return steps;
  }
}
