import type { Client } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleNotFoundError } from '@temporalio/client';
import type { Db } from '../db';
import { DateStore } from '../db/date-store';
import type { Flow, FlowSchedules } from '../flows/model';
import { dateSweep } from '../workflows';

/** The Temporal Schedule of a date-property flow: one per flow, named after it. */
export function dateScheduleId(flowId: string): string {
  return `date-flow-${flowId}`;
}

export interface DateSchedulesOptions {
  client: Client;
  db: Db;
  taskQueue: string;
  /** Seconds between sweeps (HOOKFLOW_DATE_SWEEP_SECONDS). */
  sweepSeconds: number;
}

/**
 * The one place that manages date flows' Temporal Schedules (visible in the Web UI's Schedules):
 * created when a date flow is saved, running while it is live, paused while it is a draft,
 * deleted with the flow or when its trigger stops being a date. Each action runs `dateSweep`.
 */
export class DateSchedules implements FlowSchedules {
  constructor(private readonly opts: DateSchedulesOptions) {}

  async saved(flow: Flow, previous: Flow | undefined): Promise<void> {
    if (flow.trigger.type !== 'date') {
      if (previous?.trigger.type === 'date') await this.deleted(flow.id);
      return;
    }
    const live = flow.status === 'live';
    // Going live sends from now on: occurrences that fell while the flow was a draft are not owed.
    if (live && previous?.status !== 'live') {
      await new DateStore(this.opts.db).setSweptTo(flow.id, new Date().toISOString());
    }
    const id = dateScheduleId(flow.id);
    try {
      await this.opts.client.schedule.create({
        scheduleId: id,
        spec: { intervals: [{ every: `${this.opts.sweepSeconds}s` }] },
        action: {
          type: 'startWorkflow',
          workflowType: dateSweep,
          args: [{ flowId: flow.id }],
          taskQueue: this.opts.taskQueue,
          workflowId: `date-sweep-${flow.id}`,
        },
        // One sweep at a time; the watermark, not Temporal's catch-up, covers downtime.
        policies: { overlap: 'SKIP', catchupWindow: '1 minute' },
        state: { paused: !live, note: live ? 'flow is live' : 'flow is a draft' },
        memo: { flowId: flow.id, flowName: flow.name },
      });
      return;
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
    const handle = this.opts.client.schedule.getHandle(id);
    const { state } = await handle.describe();
    if (live && state.paused) await handle.unpause('flow is live');
    if (!live && !state.paused) await handle.pause('flow is a draft');
  }

  async deleted(flowId: string): Promise<void> {
    try {
      await this.opts.client.schedule.getHandle(dateScheduleId(flowId)).delete();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
    await new DateStore(this.opts.db).forgetFlow(flowId);
  }

  /** Brings every flow's schedule in line with the flow (at API start: a save whose schedule call failed). */
  async reconcile(flows: readonly Flow[]): Promise<void> {
    for (const flow of flows) if (flow.trigger.type === 'date') await this.saved(flow, flow);
  }
}
