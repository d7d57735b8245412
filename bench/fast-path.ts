import { Client, Connection } from '@temporalio/client';
import { dataConverterOf } from '../src/temporal/payload-codec';
import type { Stack } from '../test/harness/stack';
import { pool } from './stats';

/**
 * What Temporal kept of each run (issue 18): how many took the fast path (the webhook's first
 * attempt as a local activity inside the first workflow task, no activity task), and how many
 * history events and workflow tasks a run cost. Read from every run's history after the runs ended.
 */
export interface HistoryProfile {
  runs: number;
  /** Runs with no `deliverWebhook` activity task: delivered (or ended) by their first attempt. */
  fastRuns: number;
  eventsPerRun: number;
  eventsPerFastRun: number;
  workflowTasksPerRun: number;
  /** Runs with a workflow task that timed out or failed (a slow or dead worker): taken over, replayed. */
  runsWithLostTasks: number;
}

export async function historyProfile(stack: Stack, runIds: readonly string[]): Promise<HistoryProfile> {
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({
    connection,
    namespace: stack.namespace,
    dataConverter: dataConverterOf(stack.payloadCodec()),
  });
  let fastRuns = 0;
  let events = 0;
  let fastEvents = 0;
  let tasks = 0;
  let lost = 0;
  try {
    await pool(runIds.length, 8, async (i) => {
      const handle = client.workflow.getHandle(runIds[i]!);
      await handle.result().catch(() => undefined);
      const history = (await handle.fetchHistory()).events ?? [];
      const activity = history.some(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverWebhook',
      );
      events += history.length;
      tasks += history.filter((e) => e.workflowTaskCompletedEventAttributes).length;
      if (history.some((e) => e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes))
        lost++;
      if (!activity) {
        fastRuns++;
        fastEvents += history.length;
      }
    });
  } finally {
    await connection.close();
  }
  const runs = runIds.length;
  return {
    runs,
    fastRuns,
    eventsPerRun: events / runs,
    eventsPerFastRun: fastRuns > 0 ? fastEvents / fastRuns : NaN,
    workflowTasksPerRun: tasks / runs,
    runsWithLostTasks: lost,
  };
}

export function printHistoryProfile(p: HistoryProfile, indent = '  '): void {
  const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  console.log(
    `${indent}fast-path share                 ${fmt((100 * p.fastRuns) / p.runs)} %  (${p.fastRuns}/${p.runs} runs with no activity task)`,
  );
  console.log(
    `${indent}history events per run          ${fmt(p.eventsPerRun)}  (${fmt(p.eventsPerFastRun)} on the fast path; goal ≤ 6)`,
  );
  console.log(
    `${indent}workflow tasks per run          ${fmt(p.workflowTasksPerRun, 2)}  (${p.runsWithLostTasks} runs with a task timed out or failed)`,
  );
}
