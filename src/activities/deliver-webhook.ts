import crypto from 'node:crypto';
import type { RetryPolicy } from '@temporalio/common';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { msOptionalToNumber } from '@temporalio/common/lib/time';
import type { Dispatcher } from 'undici';
import type { Config } from '../config';
import type { AttemptSpool } from '../db/attempt-spool';
import type { AttemptRecord, DeliveryStore } from '../db/delivery-store';
import { BEGUN_BEFORE } from '../db/delivery-store';
import type { FlowStore } from '../flows/store';
import type { DestinationLimitsOverride, Flow, FlowDefinition, WebhookStep } from '../flows/model';
import { findStep } from '../flows/model';
import type { AttemptPolicy, DeliveryEnd } from '../shared/delivery-outcome';
import { afterAttempt } from '../shared/delivery-outcome';
import type {
  DeliverWebhookInput,
  DeliverWebhookResult,
  DeliveryTimings,
  DestinationPausedDetails,
  WebhookFailureDetails,
} from '../shared/run-types';
import { DESTINATION_PAUSED } from '../shared/run-types';
import type { AttemptVerdict } from '../shared/destination-guard';
import { destinationOrigin } from '../shared/destination-guard';
import type { DestinationLease } from '../db/destination-store';
import type { DestinationGate, Entry, WaitingActivity } from './destination-gate';
import { verdictOf } from './destination-gate';
import type { SecretBox } from '../secrets';
import type { TemplateRenderer } from '../templates';
import type { AttemptOutcome, ErrorClass } from '../webhooks/classify';
import { failureType } from '../webhooks/classify';
import type { PreparedRequest } from '../webhooks/delivery';
import { isOutcome, prepareRequest } from '../webhooks/delivery';
import type { SendResult } from '../webhooks/send';
import { sendWebhook } from '../webhooks/send';
import { Lru } from '../lru';

/** What the worker counts about deliveries (Prometheus in production; tests may pass none). */
export interface DeliveryMetrics {
  /** One attempt ended: its outcome class, destination host (none when nothing was sent), duration. */
  attempt(outcome: AttemptOutcome['class'], host: string | undefined, durationMs: number): void;
  /** A delivery reached its end. */
  delivery(outcome: DeliveryEnd): void;
  /** The step was loaded and its URL, headers and body rendered in `durationMs`. */
  rendered(durationMs: number): void;
  /** An attempt record was written to the database, or spooled on disk when it refused. */
  attemptRecorded(to: 'database' | 'spool'): void;
}

export interface WebhookDeps {
  metrics?: DeliveryMetrics;
  flows: FlowStore;
  deliveries: DeliveryStore;
  secrets: SecretBox;
  dispatcher: Dispatcher;
  renderer: TemplateRenderer;
  spool: AttemptSpool;
  webhook: Config['webhook'];
  /** Endpoint protection shared by every worker (issue 16); none: send without limits. */
  destinations?: DestinationGate;
}

/** One delivery is one webhook step of one run: the same id on every attempt, a new one per run. */
export function deliveryIdFor(runId: string, stepId: string): string {
  return `dlv_${crypto.createHash('sha256').update(`${runId}\0${stepId}`).digest('hex').slice(0, 24)}`;
}

/** The host a request goes to, a metric label (never the path or query, which may carry data). */
function destinationHost(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/** The retry policy Temporal applies to this activity, in milliseconds. */
function attemptPolicy(p: RetryPolicy | undefined): AttemptPolicy {
  // The workflow always gives one; Temporal leaves it out of a task whose policy allows a single
  // attempt (a fast-path fallback or a paused delivery with one attempt left): this one is the last.
  if (!p) return { maximumAttempts: 1 };
  const policy: AttemptPolicy = {};
  if (p.maximumAttempts !== undefined) policy.maximumAttempts = p.maximumAttempts;
  if (p.backoffCoefficient !== undefined) policy.backoffCoefficient = p.backoffCoefficient;
  const initial = msOptionalToNumber(p.initialInterval);
  if (initial !== undefined) policy.initialInterval = initial;
  const max = msOptionalToNumber(p.maximumInterval);
  if (max !== undefined) policy.maximumInterval = max;
  return policy;
}

/**
 * How long a worker reuses a flow's current version for its signing secrets. Short, so that a
 * rotation reaches runs in flight well within any grace period.
 */
const SIGNING_FRESH_MS = 5_000;

/** When the destination state cannot be read, the delivery waits this long and asks again. */
const STATE_RETRY_MS = 5_000;

/** How one attempt is made: its number, the policy it counts under, and how it may wait for a slot. */
export interface AttemptCall {
  /** The delivery's attempt number (1 for the first). */
  attempt: number;
  /** This call's own attempt number, which the retry policy counts. */
  ofThisCall: number;
  policy: AttemptPolicy;
  activity: WaitingActivity;
  /** The longest the destination's gate may wait for a slot; the configured wait when absent. */
  waitMs?: number;
  /** Never send under a number begun before (see {@link AttemptStart.fresh}): the next one instead. */
  fresh?: boolean;
}

/** How one attempt ended: held back by its destination (nothing sent), or sent (or refused) and recorded. */
export type AttemptEnd =
  | { kind: 'paused'; paused: DestinationPausedDetails }
  | {
      kind: 'ended';
      deliveryId: string;
      attempt: number;
      result: SendResult;
      status: AttemptRecord['status'];
      nextAttemptAt: string | null;
      timings: DeliveryTimings;
    };

type Ended = Extract<AttemptEnd, { kind: 'ended' }>;

/** A delivered attempt as the activity returns it (and the run records). */
export function deliveredResult(end: Ended): DeliverWebhookResult {
  return {
    deliveryId: end.deliveryId,
    attempts: end.attempt,
    httpStatus: end.result.httpStatus ?? 0,
    latencyMs: end.result.durationMs,
    timings: end.timings,
  };
}

/** What a failed attempt tells the workflow (no secret, no response body). */
export function failureDetails(end: Ended): WebhookFailureDetails {
  const details: WebhookFailureDetails = { deliveryId: end.deliveryId, attempt: end.attempt };
  if (end.result.httpStatus !== undefined) details.httpStatus = end.result.httpStatus;
  if (end.result.errorClass !== undefined) details.errorClass = end.result.errorClass;
  return details;
}

export function createDeliverWebhook(deps: WebhookDeps) {
  const versions = new Lru<string, FlowDefinition>(500);
  const current = new Lru<string, { at: number; flow: Flow | undefined }>(500);

  /**
   * A run renders the step of the version it started on, but signs with the step's current
   * secrets: a run started before a rotation (and still delivering after its grace period, after
   * a long delay or retries) must not sign only with the secret receivers have dropped.
   */
  async function withCurrentSigning(input: DeliverWebhookInput, step: WebhookStep): Promise<WebhookStep> {
    let hit = current.get(input.flowId);
    // A run on a version newer than the one kept proves the kept one old: read again.
    const behind = hit?.flow !== undefined && hit.flow.version < input.flowVersion;
    if (!hit || behind || Date.now() - hit.at > SIGNING_FRESH_MS) {
      hit = { at: Date.now(), flow: await deps.flows.get(input.flowId) };
      current.set(input.flowId, hit);
    }
    const now = hit.flow && findStep(hit.flow.steps, step.id);
    if (now?.type !== 'webhook') return step;
    const signed: WebhookStep = { ...step };
    if (now.signing) signed.signing = now.signing;
    else delete signed.signing;
    return signed;
  }

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

  /** The request to send (or why none can be), and the step's own endpoint protection limits. */
  async function prepare(
    input: DeliverWebhookInput,
  ): Promise<[PreparedRequest | AttemptOutcome, DestinationLimitsOverride | undefined]> {
    const step = await loadStep(input);
    if (!step) {
      const missing: AttemptOutcome = {
        class: 'non_retryable',
        reason: `step ${input.stepId} of flow ${input.flowId} version ${input.flowVersion} no longer exists`,
        errorClass: 'step_missing',
      };
      return [missing, undefined];
    }
    // Compiled once per flow version and step (the cache key), in the renderer's threads. A resend
    // renders the current step, which may change between its retries: its cache key is the source.
    const key = input.resend ? undefined : `${input.flowId}@${input.flowVersion}#${step.id}`;
    const signed = input.resend ? step : await withCurrentSigning(input, step);
    return [await prepareRequest(signed, input.context, deps, key), step.limits];
  }

  /**
   * Writes the attempt's row before its request goes out (outcome `sending`, completed by
   * {@link record}), so a worker dying mid-send leaves an attempt of unknown outcome instead of
   * nothing. When the database refuses it after a few tries, the request is not sent: a request
   * the history cannot show is the one thing this row exists to prevent, so the attempt ends
   * retryable (recorded, or spooled, like any other) and Temporal tries again later. When this
   * attempt number already completed (Temporal ran it again after losing its completion), its
   * recorded outcome is returned and nothing is sent.
   */
  async function writeAhead(
    input: DeliverWebhookInput,
    deliveryId: string,
    first: number,
    startedAt: Date,
    fresh: boolean,
  ): Promise<{ attempt: number; unsent?: SendResult }> {
    const manual = input.resend !== undefined;
    for (let i = 0, attempt = first; ; i++) {
      try {
        const start = { deliveryId, attempt, manual, startedAt: startedAt.toISOString(), fresh };
        const done = await deps.deliveries.beginAttempt(start);
        if (!done) return { attempt };
        if (done === BEGUN_BEFORE) {
          // An earlier run of this local activity died mid-send: that attempt stays, outcome unknown.
          log.warn('webhook attempt begun before by a worker that died: sent as the next attempt', {
            deliveryId,
            attempt,
          });
          attempt++;
          i = -1;
          continue;
        }
        // Sent and recorded already by an earlier run of this attempt: not sent twice.
        log.warn('webhook attempt already recorded: not sent again', { deliveryId, attempt });
        const unsent: SendResult = {
          class: done.outcome,
          reason: done.reason,
          ...(done.httpStatus !== null ? { httpStatus: done.httpStatus } : {}),
          ...(done.errorClass !== null ? { errorClass: done.errorClass as ErrorClass } : {}),
          durationMs: done.durationMs,
        };
        return { attempt, unsent };
      } catch (err) {
        if (i >= 2) {
          log.error('webhook attempt not sent: the database refused its write-ahead record', {
            deliveryId,
            attempt,
            error: (err as Error).message,
          });
          const unsent: SendResult = {
            class: 'retryable',
            reason: 'not sent: the attempt could not be recorded before sending (database unavailable)',
            errorClass: 'record_unavailable',
            durationMs: Date.now() - startedAt.getTime(),
          };
          return { attempt, unsent };
        }
        await new Promise((r) => setTimeout(r, 50 * (i + 1)));
      }
    }
  }

  async function record(
    input: DeliverWebhookInput,
    deliveryId: string,
    attempts: { number: number; ofThisCall: number },
    policy: AttemptPolicy,
    startedAt: Date,
    result: SendResult,
    excerpt: string | undefined,
  ): Promise<{ status: AttemptRecord['status']; nextAttemptAt: string | null }> {
    const attempt = attempts.number;
    // Temporal's policy counts this call's attempts (the workflow gave it what was left of the budget).
    const report = {
      class: result.class,
      attempt: attempts.ofThisCall,
      endedAtMs: startedAt.getTime() + result.durationMs,
      ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}),
    };
    const { status, nextAttemptAt } = afterAttempt(report, policy);
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
      nextAttemptAt,
      context: JSON.stringify(input.context),
      resendOf: input.resend?.originalId ?? null,
    };
    // The record must never change the delivery's outcome: retry the write a few times, then spool it.
    for (let i = 0; ; i++) {
      try {
        await deps.deliveries.recordAttempt(rec);
        deps.metrics?.attemptRecorded('database');
        return { status, nextAttemptAt };
      } catch (err) {
        if (i >= 2) {
          // Never lost: spooled to disk and replayed into the database by the worker's reconciler.
          deps.spool.append(rec);
          deps.metrics?.attemptRecorded('spool');
          log.error('webhook attempt spooled: the database refused it', {
            deliveryId,
            attempt,
            error: (err as Error).message,
          });
          return { status, nextAttemptAt };
        }
        await new Promise((r) => setTimeout(r, 50 * (i + 1)));
      }
    }
  }

  /** The delivery waits for its destination: shown retrying, with why and until when. */
  async function recordWaiting(
    input: DeliverWebhookInput,
    deliveryId: string,
    paused: DestinationPausedDetails,
  ) {
    try {
      await deps.deliveries.recordWaiting({
        deliveryId,
        runId: input.runId,
        flowId: input.flowId,
        flowVersion: input.flowVersion,
        stepId: input.stepId,
        profileId: input.profileId,
        reason: paused.reason,
        nextAttemptAt: new Date(paused.untilMs).toISOString(),
        context: JSON.stringify(input.context),
        manual: input.resend !== undefined,
        resendOf: input.resend?.originalId ?? null,
      });
    } catch (err) {
      // Only the page's wording depends on it: the run waits all the same.
      log.warn('a waiting delivery could not be marked', { deliveryId, error: (err as Error).message });
    }
  }

  /**
   * One attempt of a delivery: the step rendered, a slot at its destination (or when to come back),
   * the attempt written ahead, the request, its record. Shared by the activity and the first
   * attempt's local activity, so both classify, record and sign alike.
   */
  async function attemptDelivery(input: DeliverWebhookInput, call: AttemptCall): Promise<AttemptEnd> {
    const { activity } = call;
    let attempt = call.attempt;
    const deliveryId = input.resend?.deliveryId ?? deliveryIdFor(input.runId, input.stepId);
    const startedAt = new Date();
    const renderStarted = performance.now();
    const [prepared, limits] = await prepare(input);
    const renderedAt = Date.now();
    let result: SendResult;
    let secretValues: string[] = [];
    let host: string | undefined;
    let sentAt = renderedAt;
    if (isOutcome(prepared)) {
      result = { ...prepared, durationMs: 0 };
    } else {
      deps.metrics?.rendered(performance.now() - renderStarted);
      host = destinationHost(prepared.url);
      secretValues = [...Object.values(prepared.headers), ...(prepared.signingSecrets ?? [])];
      const origin = destinationOrigin(prepared.url);
      let lease: DestinationLease | undefined;
      if (deps.destinations && origin) {
        const entry = await deps.destinations
          .enter(origin, activity, limits, call.waitMs)
          .catch((err: unknown): Entry => {
            if (activity.signal.aborted) throw err;
            log.warn('destination state unavailable: the delivery waits', { error: (err as Error).message });
            return { pausedUntilMs: Date.now() + STATE_RETRY_MS, reason: 'protection state unavailable' };
          });
        if (!('lease' in entry)) {
          const paused: DestinationPausedDetails = {
            deliveryId,
            attemptsMade: attempt - 1,
            untilMs: entry.pausedUntilMs,
            reason: `destination paused: ${entry.reason} (${origin})`,
          };
          if (entry.reason !== 'concurrency limit' && entry.reason !== 'rate limit') {
            paused.held = true;
            await recordWaiting(input, deliveryId, paused);
          }
          return { kind: 'paused', paused };
        }
        lease = entry.lease;
      }
      // Written ahead once the request is about to go out (past the destination's gate); when
      // that record cannot be written, nothing is sent (see writeAhead).
      const ahead = await writeAhead(input, deliveryId, attempt, startedAt, call.fresh === true);
      const unsent = ahead.unsent;
      attempt = ahead.attempt;
      sentAt = Date.now();
      const sending = unsent
        ? Promise.resolve(unsent)
        : sendWebhook(
            {
              url: prepared.url,
              headers: prepared.headers,
              body: prepared.body,
              idempotencyKey: deliveryId,
              ...(prepared.signingSecrets ? { signingSecrets: prepared.signingSecrets } : {}),
            },
            {
              dispatcher: deps.dispatcher,
              timeoutMs: deps.webhook.timeoutMs,
              maxResponseBytes: deps.webhook.maxResponseBytes,
              retryAfterMaxMs: deps.webhook.retryAfterMaxMs,
              signal: activity.signal,
              redact: secretValues,
            },
          );
      if (lease && origin && deps.destinations) {
        const [gate, held] = [deps.destinations, lease];
        const release = (verdict: AttemptVerdict) =>
          gate.leave(origin, held, verdict).catch((err: unknown) => {
            // The outcome stands: the slot frees itself when its lease lapses.
            log.warn('destination slot not released', { error: (err as Error).message });
          });
        const sent = await sending.catch(async (err: unknown) => {
          await release({ failed: false, probe: held.probe, reason: 'cancelled', cancelled: true });
          throw err;
        });
        // Not sent (its record could not be written ahead): says nothing of the endpoint.
        await release(
          unsent
            ? { failed: false, probe: held.probe, reason: unsent.reason, cancelled: true }
            : verdictOf(sent, held.probe),
        );
        result = sent;
      } else {
        result = await sending;
      }
    }
    const respondedAt = Date.now();
    deps.metrics?.attempt(result.class, host, result.durationMs);
    const { status, nextAttemptAt } = await record(
      input,
      deliveryId,
      { number: attempt, ofThisCall: call.ofThisCall + attempt - call.attempt },
      call.policy,
      new Date(sentAt),
      result,
      result.excerpt,
    );
    if (status !== 'retrying' && status !== 'pending') deps.metrics?.delivery(status);
    const timings = {
      startedAt: startedAt.getTime(),
      renderedAt,
      sentAt,
      respondedAt,
      recordedAt: Date.now(),
    };
    return { kind: 'ended', deliveryId, attempt, result, status, nextAttemptAt, timings };
  }

  /** The `deliverWebhook` activity: one attempt per Temporal attempt, under the step's retry policy. */
  async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
    const ctx = Context.current();
    // After its destination paused it (or its first attempt ran on the fast path), the delivery
    // goes on from the attempts it had made.
    const offset = input.attemptOffset ?? 0;
    const end = await attemptDelivery(input, {
      attempt: offset + ctx.info.attempt,
      ofThisCall: ctx.info.attempt,
      // The policy Temporal applies to these attempts: it tells the last one and when the next is due.
      policy: attemptPolicy(ctx.info.retryPolicy),
      activity: { heartbeat: () => ctx.heartbeat(), signal: ctx.cancellationSignal },
    });
    if (end.kind === 'paused') {
      // Not a failed attempt: the workflow waits on a timer and calls again (Temporal must not retry).
      throw ApplicationFailure.create({
        type: DESTINATION_PAUSED,
        message: end.paused.reason,
        nonRetryable: true,
        details: [end.paused],
      });
    }
    const { result } = end;
    if (result.class === 'delivered') return deliveredResult(end);
    throw ApplicationFailure.create({
      type: failureType(result),
      message: result.reason,
      nonRetryable: result.class === 'non_retryable',
      details: [failureDetails(end)],
      nextRetryDelay: result.retryAfterMs,
    });
  }

  return { deliverWebhook, attemptDelivery };
}
