import crypto from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Dispatcher } from 'undici';
import type { Config } from '../config';
import type { AttemptSpool } from '../db/attempt-spool';
import type { AttemptRecord, DeliveryStore } from '../db/delivery-store';
import type { DeliveryStatus } from '../db/schema';
import type { FlowStore } from '../flows/store';
import type { FlowDefinition, WebhookStep } from '../flows/model';
import { findStep } from '../flows/model';
import type {
  DeliverWebhookInput,
  DeliverWebhookResult,
  RetryPlan,
  WebhookFailureDetails,
} from '../flows/run-types';
import type { SecretBox } from '../secrets';
import type { TemplateRenderer } from '../templates';
import type { AttemptOutcome } from '../webhooks/classify';
import type { PreparedRequest } from '../webhooks/delivery';
import { isOutcome, prepareRequest } from '../webhooks/delivery';
import type { SendResult } from '../webhooks/send';
import { sendWebhook } from '../webhooks/send';
import { Lru } from '../lru';

export interface WebhookDeps {
  flows: FlowStore;
  deliveries: DeliveryStore;
  secrets: SecretBox;
  dispatcher: Dispatcher;
  renderer: TemplateRenderer;
  spool: AttemptSpool;
  webhook: Config['webhook'];
}

/** One delivery is one webhook step of one run: the same id on every attempt, a new one per run. */
export function deliveryIdFor(runId: string, stepId: string): string {
  return `dlv_${crypto.createHash('sha256').update(`${runId}\0${stepId}`).digest('hex').slice(0, 24)}`;
}

/** The delay Temporal will wait before attempt `attempt + 1` under `retry`. */
export function backoffMs(retry: RetryPlan, attempt: number): number {
  return Math.min(retry.initialIntervalMs * retry.backoffCoefficient ** (attempt - 1), retry.maxIntervalMs);
}

const FAILURE_TYPES: Record<string, string> = {
  redirect: 'WebhookRedirect',
  template: 'WebhookTemplateError',
  invalid_url: 'WebhookInvalidUrl',
  step_missing: 'WebhookStepMissing',
  secret_unavailable: 'WebhookSecretUnavailable',
};

function failureType(o: AttemptOutcome): string {
  if (o.errorClass && FAILURE_TYPES[o.errorClass]) return FAILURE_TYPES[o.errorClass]!;
  if (o.errorClass?.startsWith('tls_')) return 'WebhookTlsError';
  if (o.httpStatus !== undefined) return o.class === 'retryable' ? 'WebhookServerError' : 'WebhookRejected';
  return 'WebhookNetworkError';
}

export function createDeliverWebhook(deps: WebhookDeps) {
  const versions = new Lru<string, FlowDefinition>(500);

  async function loadStep(input: DeliverWebhookInput): Promise<WebhookStep | undefined> {
    if (input.resend) {
      // A resend goes out with the step as it is now: fixing the endpoint, then resending, is the usual case.
      const current = await deps.flows.get(input.flowId);
      const step = current && findStep(current.steps, input.stepId);
      return step?.type === 'webhook' ? step : undefined;
    }
    const key = `${input.flowId}@${input.flowVersion}`;
    let def = versions.get(key);
    if (!def) {
      def = await deps.flows.getVersion(input.flowId, input.flowVersion);
      if (def) versions.set(key, def);
    }
    const step = def && findStep(def.steps, input.stepId);
    return step?.type === 'webhook' ? step : undefined;
  }

  async function prepare(input: DeliverWebhookInput): Promise<PreparedRequest | AttemptOutcome> {
    const step = await loadStep(input);
    if (!step) {
      return {
        class: 'non_retryable',
        reason: `step ${input.stepId} of flow ${input.flowId} version ${input.flowVersion} no longer exists`,
        errorClass: 'step_missing',
      };
    }
    // Compiled once per flow version and step (the cache key), in the renderer's threads. A resend
    // renders the current step, which may change between its retries: its cache key is the source.
    const key = input.resend ? undefined : `${input.flowId}@${input.flowVersion}#${step.id}`;
    return prepareRequest(step, input.context, deps, key);
  }

  async function record(
    input: DeliverWebhookInput,
    deliveryId: string,
    attempt: number,
    startedAt: Date,
    result: SendResult,
    excerpt: string | undefined,
  ): Promise<void> {
    let status: DeliveryStatus;
    let next: string | null = null;
    if (result.class === 'delivered') status = 'delivered';
    else if (result.class === 'non_retryable') status = 'skipped';
    else if (attempt >= input.retry.maxAttempts) status = 'failed';
    else {
      status = 'retrying';
      const wait = result.retryAfterMs ?? backoffMs(input.retry, attempt);
      next = new Date(startedAt.getTime() + result.durationMs + wait).toISOString();
    }
    const rec: AttemptRecord = {
      deliveryId,
      runId: input.runId,
      flowId: input.flowId,
      flowVersion: input.flowVersion,
      stepId: input.stepId,
      profileId: input.profileId,
      attempt,
      manual: input.resend !== undefined,
      startedAt: startedAt.toISOString(),
      durationMs: result.durationMs,
      httpStatus: result.httpStatus ?? null,
      errorClass: result.errorClass ?? null,
      outcome: result.class,
      reason: result.reason,
      responseExcerpt: excerpt ?? null,
      status,
      nextAttemptAt: next,
      context: JSON.stringify(input.context),
      resendOf: input.resend?.originalId ?? null,
    };
    // The record must never change the delivery's outcome: retry the write a few times, then spool it.
    for (let i = 0; ; i++) {
      try {
        await deps.deliveries.recordAttempt(rec);
        return;
      } catch (err) {
        if (i >= 2) {
          // Never lost: spooled to disk and replayed into the database by the worker's reconciler.
          deps.spool.append(rec);
          log.error('webhook attempt spooled: the database refused it', {
            deliveryId,
            attempt,
            error: (err as Error).message,
          });
          return;
        }
        await new Promise((r) => setTimeout(r, 50 * (i + 1)));
      }
    }
  }

  return async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
    const ctx = Context.current();
    const attempt = ctx.info.attempt;
    const deliveryId = input.resend?.deliveryId ?? deliveryIdFor(input.runId, input.stepId);
    const startedAt = new Date();
    const prepared = await prepare(input);
    let result: SendResult;
    let secretValues: string[] = [];
    if (isOutcome(prepared)) {
      result = { ...prepared, durationMs: 0 };
    } else {
      secretValues = Object.values(prepared.headers);
      result = await sendWebhook(
        { url: prepared.url, headers: prepared.headers, body: prepared.body, idempotencyKey: deliveryId },
        {
          dispatcher: deps.dispatcher,
          timeoutMs: deps.webhook.timeoutMs,
          maxResponseBytes: deps.webhook.maxResponseBytes,
          retryAfterMaxMs: deps.webhook.retryAfterMaxMs,
          signal: ctx.cancellationSignal,
          redact: secretValues,
        },
      );
    }
    await record(input, deliveryId, attempt, startedAt, result, result.excerpt);

    if (result.class === 'delivered') {
      return {
        deliveryId,
        attempts: attempt,
        httpStatus: result.httpStatus ?? 0,
        latencyMs: result.durationMs,
      };
    }
    const details: WebhookFailureDetails = { deliveryId, attempt };
    if (result.httpStatus !== undefined) details.httpStatus = result.httpStatus;
    if (result.errorClass !== undefined) details.errorClass = result.errorClass;
    throw ApplicationFailure.create({
      type: failureType(result),
      message: result.reason,
      nonRetryable: result.class === 'non_retryable',
      details: [details],
      nextRetryDelay: result.retryAfterMs,
    });
  };
}
