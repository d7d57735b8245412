import { proxyActivities } from '@temporalio/workflow';

/** The floor: one workflow with one no-op activity, on the same dev server as hookflow's runs. */
const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function floorWorkflow(): Promise<void> {
  await noop();
}
