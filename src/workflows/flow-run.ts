import { defineQuery, log, patched, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { evaluateCondition } from '../shared/condition';
import type { DeliverWebhookInput, FlowRunInput, PlanStep, RunState, StepState } from '../shared/run-types';
import { eligibilityActivityOptions } from './activity-options';
import type { DeliveryResult } from './deliver';
import { deliver, deliverFirst, eligibility } from './deliver';

const { checkEligibility } = proxyActivities<Activities>(eligibilityActivityOptions);

/** The run's progress, step by step; read by `GET /api/runs/:runId`. */
export const runStateQuery = defineQuery<RunState>('runState');

function nowIso(): string {
  // Workflow time: deterministic, replayed from history.
  return new Date().toISOString();
}

/** How a run delivers one webhook step (the workflow type decides: see {@link flowRunV2}). */
type WebhookStep = (
  step: Extract<PlanStep, { type: 'webhook' }>,
  delivery: DeliverWebhookInput,
) => Promise<DeliveryResult>;

/**
 * Runs one flow for one event: walks the plan in order, sleeping on delays as durable timers,
 * choosing split branches, and delivering each webhook through the `deliverWebhook` activity.
 * A webhook that ends failed or skipped does not stop the run. Runs started before issue 18 replay
 * here; new runs start {@link flowRunV2}.
 */
export async function flowRun(input: FlowRunInput): Promise<RunState> {
  return walkFlow(input, async (step, delivery) => {
    // Runs recorded before this check replay without it (README "Changing workflow code safely").
    if (patched('eligibility-before-webhook')) {
      // A local activity since 'eligibility-local-activity': a few reads, run by the worker that holds
      // the workflow task, so the webhook is scheduled in the same task instead of after a round
      // trip through matching and a second workflow task. Recorded runs replay the activity.
      const verdict = patched('eligibility-local-activity')
        ? await eligibility.checkEligibility(delivery)
        : await checkEligibility(delivery);
      // Skipped without a request: the activity recorded the delivery with its reason.
      if (!verdict.eligible)
        return { status: 'skipped', reason: verdict.reason, deliveryId: verdict.deliveryId, attempts: 0 };
    }
    return deliver(step.id, delivery, step.retry, step.timeoutMs);
  });
}

/**
 * The same run with each webhook's first attempt on the fast path (issue 18, `deliverFirst`): the
 * eligibility check and attempt 1 as one local activity in the current workflow task, the regular
 * activity only when that attempt must be retried. A run whose webhook is delivered at once is one
 * workflow task and six history events. A new workflow type rather than a patch: a patch marker is
 * one more event on every run, and a worker still on older code fails this type's tasks (unknown
 * type) until a newer worker takes them, instead of recording a history the newer code cannot replay.
 */
export async function flowRunV2(input: FlowRunInput): Promise<RunState> {
  return walkFlow(input, (step, delivery) => deliverFirst(step.id, delivery, step.retry, step.timeoutMs));
}

async function walkFlow(input: FlowRunInput, webhookStep: WebhookStep): Promise<RunState> {
  const state: RunState = {
    runId: input.runId,
    flowId: input.flowId,
    flowVersion: input.flowVersion,
    status: 'running',
    steps: [],
  };
  const byId = new Map<string, StepState>();
  const index = (steps: PlanStep[], parent?: { id: string; branch: 'yes' | 'no' }) => {
    for (const s of steps) {
      const st: StepState = { id: s.id, type: s.type, status: 'pending' };
      if (parent) {
        st.parentId = parent.id;
        st.branch = parent.branch;
      }
      state.steps.push(st);
      byId.set(s.id, st);
      if (s.type === 'split') {
        index(s.yes, { id: s.id, branch: 'yes' });
        index(s.no, { id: s.id, branch: 'no' });
      }
    }
  };
  index(input.plan);
  setHandler(runStateQuery, () => state);

  const markNotTaken = (steps: PlanStep[]) => {
    for (const s of steps) {
      const st = byId.get(s.id);
      if (st) st.status = 'not_taken';
      if (s.type === 'split') {
        markNotTaken(s.yes);
        markNotTaken(s.no);
      }
    }
  };

  const runWebhook = async (step: Extract<PlanStep, { type: 'webhook' }>, st: StepState) => {
    st.status = 'running';
    const delivery = {
      runId: input.runId,
      flowId: input.flowId,
      flowVersion: input.flowVersion,
      stepId: step.id,
      profileId: input.profileId,
      context: input.context,
    };
    const res = await webhookStep(step, delivery);
    st.status = res.status;
    if (res.reason !== undefined) st.reason = res.reason;
    if (res.deliveryId !== undefined) st.deliveryId = res.deliveryId;
    if (res.attempts !== undefined) st.attempts = res.attempts;
    if (res.httpStatus !== undefined) st.lastHttpStatus = res.httpStatus;
    if (res.status === 'skipped' && res.attempts === 0) {
      log.info('webhook step skipped: profile no longer eligible', { stepId: step.id, reason: res.reason });
    } else if (res.status !== 'delivered') {
      log.info('webhook step ended without delivery', {
        stepId: step.id,
        status: st.status,
        reason: st.reason,
      });
    }
  };

  const walk = async (steps: PlanStep[]): Promise<void> => {
    for (const step of steps) {
      const st = byId.get(step.id)!;
      st.startedAt = nowIso();
      switch (step.type) {
        case 'delay':
          st.status = 'waiting';
          st.wakeAt = new Date(Date.now() + step.seconds * 1000).toISOString();
          await sleep(step.seconds * 1000);
          st.status = 'completed';
          break;
        case 'split': {
          const yes = evaluateCondition(step.condition, {
            person: input.context.person,
            event: input.context.event,
          });
          st.taken = yes ? 'yes' : 'no';
          st.status = 'completed';
          markNotTaken(yes ? step.no : step.yes);
          st.finishedAt = nowIso();
          await walk(yes ? step.yes : step.no);
          continue;
        }
        case 'webhook':
          await runWebhook(step, st);
          break;
      }
      st.finishedAt = nowIso();
    }
  };

  await walk(input.plan);
  state.status = 'completed';
  return state;
}
