import type { ApiResponse, Stack } from '../harness/stack';
import { poll } from '../harness/stack';
import type { PublicFlow, RunView, RunsResponse } from './api-types';

let counter = 0;
/** A metric name no other test uses, so each test's events start only its own flows. */
export function uniqueMetric(label: string): string {
  counter++;
  return `${label} ${process.pid}-${counter}`;
}

/** A webhook step posting the person's email and the event's value to `url`. */
export function emailValueHook(id: string, url: string): Record<string, unknown> {
  return {
    id,
    type: 'webhook',
    url,
    body: '{"email": "{{ person.email }}", "value": {{ event.value }}}',
  };
}

export async function createLiveFlow(stack: Stack, metric: string, steps: unknown[]): Promise<PublicFlow> {
  const res = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: `flow for ${metric}`,
    trigger: { type: 'metric', metric },
    status: 'live',
    steps,
  });
  if (res.status !== 201) throw new Error(`flow not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function postEvent(
  stack: Stack,
  metric: string,
  extra: Record<string, unknown> = {},
): Promise<ApiResponse<RunsResponse>> {
  return stack.request<RunsResponse>('POST', '/api/events', {
    metric,
    profile: { email: 'ada@example.com', first_name: 'Ada', properties: { loyalty_id: 'L-1' } },
    properties: { value: 120.5, items: [{ name: 'Tea', price: 10 }] },
    ...extra,
  });
}

/** Posts an event that must start exactly one run, and returns its id. */
export async function startOneRun(
  stack: Stack,
  metric: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await postEvent(stack, metric, extra);
  if (res.status !== 202 || res.body.runs.length !== 1) {
    throw new Error(`expected one run: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.runs[0]!.runId;
}

export async function getRun(stack: Stack, runId: string): Promise<RunView> {
  const res = await stack.request<RunView>('GET', `/api/runs/${runId}`);
  if (res.status !== 200) throw new Error(`run ${runId}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export function waitForRun(stack: Stack, runId: string, timeoutMs = 60_000): Promise<RunView> {
  return poll(
    () => getRun(stack, runId),
    (r) => r.status === 'completed',
    timeoutMs,
  );
}

export function step(run: RunView, id: string): RunView['steps'][number] {
  const s = run.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id} in run ${run.runId}`);
  return s;
}
