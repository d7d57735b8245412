/**
 * The shapes exchanged between the API, the workflow and the activities. Types only: workflow
 * code imports this file, so it must stay free of runtime dependencies.
 */
import type { RetrySettings } from './retry';
import type { TemplateContext } from './template-context';

/** The retry policy a webhook step follows: its overrides over the configured defaults. */
export type RetryPlan = RetrySettings;

/**
 * A flow version reduced to what the workflow needs to walk it. No URL, header or body: those
 * stay in the database and the activity loads them, so they never enter workflow history.
 */
export type PlanStep =
  | { id: string; type: 'webhook'; retry: RetryPlan; timeoutMs: number }
  | { id: string; type: 'delay'; seconds: number }
  | { id: string; type: 'split'; condition: string; yes: PlanStep[]; no: PlanStep[] };

/** The template context a run carries (declared once, in ./template-context). */
export type RunContext = TemplateContext;

export interface FlowRunInput {
  runId: string;
  flowId: string;
  flowVersion: number;
  profileId: string;
  /** The event that started the run; null for list and segment entries. */
  eventId: string | null;
  context: RunContext;
  plan: PlanStep[];
}

export interface DeliverWebhookInput {
  runId: string;
  flowId: string;
  flowVersion: number;
  stepId: string;
  profileId: string;
  context: RunContext;
  /**
   * Set for a resend a user asked for: the delivery row the API created, and the one it sends
   * again. A resend uses the flow's current version of the step (URL, headers, body).
   */
  resend?: { deliveryId: string; originalId: string };
  /**
   * Attempts made before this call (its destination paused the delivery, and the workflow called
   * again after waiting): attempt numbers go on from here. Absent when 0, so inputs recorded before
   * endpoint protection stay the same.
   */
  attemptOffset?: number;
}

/**
 * The first attempt of a webhook step as a local activity (`deliverFirstAttempt`, workflow
 * `flowRunV2`, issue 18): the eligibility check and attempt 1 in the worker that holds the run's
 * workflow task, under the step's retry policy (which the record's next-attempt time follows).
 */
export interface FirstAttemptInput extends Omit<DeliverWebhookInput, 'resend' | 'attemptOffset'> {
  retry: RetryPlan;
}

/**
 * How the first attempt ended. Returned, never thrown, so the run reads it from the local
 * activity's marker (encrypted by the payload codec like every result): `declined` sent nothing (the
 * destination had no slot at once, or is paused) and the regular activity takes the delivery over
 * from attempt 1 (after the attempts an earlier run of it used, when its worker died); `failed` with status `retrying` is continued by the regular activity from attempt
 * 2 after `retryInMs` (the endpoint's Retry-After, else the policy's first backoff).
 */
export type FirstAttemptResult =
  | { kind: 'ineligible'; reason: string; deliveryId: string }
  | {
      kind: 'declined';
      reason: string;
      /** Attempts an earlier run of this local activity used (its worker died): the activity goes on after them. */
      attemptsMade: number;
    }
  | ({ kind: 'delivered' } & DeliverWebhookResult)
  | {
      kind: 'failed';
      status: 'retrying' | 'failed' | 'skipped';
      reason: string;
      details: WebhookFailureDetails;
      retryInMs?: number;
    };

/** Asked before every webhook step (behind the `eligibility-before-webhook` patch). */
export type CheckEligibilityInput = Omit<DeliverWebhookInput, 'resend'>;

/** Not eligible: the step's delivery was recorded skipped with `reason`, no request sent. */
export type CheckEligibilityResult =
  { eligible: true } | { eligible: false; reason: string; deliveryId: string };

/** A resend: the delivery it sends (as the activity takes it), its retry policy and attempt timeout. */
export interface ResendInput {
  delivery: DeliverWebhookInput & { resend: NonNullable<DeliverWebhookInput['resend']> };
  retry: RetryPlan;
  timeoutMs: number;
}

export interface DeliverWebhookResult {
  deliveryId: string;
  attempts: number;
  httpStatus: number;
  latencyMs: number;
  /**
   * When the delivered attempt reached each stage (epoch ms, the worker's clock). Carried in the
   * result, so Temporal's history keeps it beside the scheduled/started times of the same attempt:
   * the Web UI and `make bench` (bench/stages.ts) read one delivery's whole path from one place,
   * and no table grows a column per attempt for figures only an operator tuning latency reads.
   * Absent in results recorded before it existed; the workflow never reads it.
   */
  timings?: DeliveryTimings;
}

/** See {@link DeliverWebhookResult.timings}. */
export interface DeliveryTimings {
  /** The activity began (step loading starts). */
  startedAt: number;
  /** The body was rendered and the headers opened. */
  renderedAt: number;
  /** The request was handed to the HTTP client. */
  sentAt: number;
  /** The response (status and excerpt) was read. */
  respondedAt: number;
  /** The attempt was written to the database (or spooled). */
  recordedAt: number;
}

/**
 * The failure type of a delivery whose destination is paused (circuit open, the endpoint's
 * Retry-After hold, or no slot within the wait): not a failed attempt. The workflow waits on a
 * durable timer until `untilMs` and calls the activity again, so no retry is used up.
 */
export const DESTINATION_PAUSED = 'DestinationPaused';

/** Carried as the `details[0]` of a {@link DESTINATION_PAUSED} failure. */
export interface DestinationPausedDetails {
  deliveryId: string;
  /** Attempts made in all so far (the next call's `attemptOffset`). */
  attemptsMade: number;
  /** When to call again (ms since the epoch). */
  untilMs: number;
  reason: string;
  /** Paused (circuit open, the endpoint's hold), not only short of a slot: an outage may go on. */
  held?: boolean;
}

/** Carried as the `details[0]` of a webhook ApplicationFailure. */
export interface WebhookFailureDetails {
  deliveryId: string;
  attempt: number;
  httpStatus?: number;
  errorClass?: string;
}

export type WebhookStepStatus =
  'pending' | 'running' | 'retrying' | 'delivered' | 'failed' | 'skipped' | 'not_taken';
export type OtherStepStatus = 'pending' | 'running' | 'waiting' | 'completed' | 'not_taken';

export interface StepState {
  id: string;
  type: PlanStep['type'];
  status: WebhookStepStatus | OtherStepStatus;
  /** For steps inside a split: the split and the branch they belong to. */
  parentId?: string;
  branch?: 'yes' | 'no';
  startedAt?: string;
  finishedAt?: string;
  /** Delay steps: when the timer fires. */
  wakeAt?: string;
  /** Split steps: the branch taken. */
  taken?: 'yes' | 'no';
  /** Webhook steps. */
  deliveryId?: string;
  attempts?: number;
  lastHttpStatus?: number;
  reason?: string;
}

export interface RunState {
  runId: string;
  flowId: string;
  flowVersion: number;
  status: 'running' | 'completed';
  steps: StepState[];
}

/** The input of the `dateSweep` workflow a date flow's Temporal Schedule starts. */
export interface DateSweepInput {
  flowId: string;
}

/** What one sweep of a date flow did: the window (from, to] it looked at and the runs it started. */
export interface DateSweepSummary {
  flowId: string;
  from: string | undefined;
  to: string;
  profiles: number;
  started: number;
}

/** The price-drop fan-out of one drop into one flow (its workflow id is {@link priceDropFanOutId}). */
export interface PriceDropFanOutInput {
  dropId: string;
  flowId: string;
}

/** What one page of a fan-out did; `done` once the audience is exhausted (or the item left stock). */
export interface FanOutPageResult {
  done: boolean;
  processed: number;
  started: number;
}

/** One fan-out per (flow, drop), ever: the workflow id a repeated start collides with. */
export function priceDropFanOutId(input: PriceDropFanOutInput): string {
  return `pricedrop_${input.flowId}_${input.dropId}`;
}
