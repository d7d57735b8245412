import crypto from 'node:crypto';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import type { Config } from '../config';
import type { EventStore } from '../db/event-store';
import { DomainError, ValidationError } from '../errors';
import { noEventMessage } from './event-variables';
import { buildContext } from '../templates/context';
import type { SecretBox } from '../secrets';
import type { JsonProblem, TemplateRenderer } from '../templates';
import type { OutcomeClass } from '../webhooks/classify';
import { isOutcome, prepareRequest } from '../webhooks/delivery';
import { sendWebhook } from '../webhooks/send';
import type { Flow, WebhookStep } from './model';
import { findStep } from './model';
import type { RunContext } from '../shared/run-types';
import type { SampleContext } from './samples';
import { sampleContext } from './samples';

/** Optional data to preview or test with: a profile as events carry it, and event properties. */
export const previewSchema = z
  .strictObject({
    profile: z.record(z.string(), z.unknown()).optional(),
    event: z.record(z.string(), z.unknown()).optional(),
  })
  .default({});
export type PreviewInput = z.infer<typeof previewSchema>;

export interface PreviewResult {
  body: string;
  valid: boolean;
  error?: JsonProblem;
  /** Where the context came from: the request, the latest real event of the trigger, or sample data. */
  contextSource: 'request' | SampleContext['source'];
}

export interface TestSendResult {
  sent: boolean;
  class: OutcomeClass;
  reason: string;
  httpStatus?: number;
  latencyMs?: number;
  responseExcerpt?: string;
  errorClass?: string;
  contextSource: PreviewResult['contextSource'];
}

export interface StepToolsDeps {
  events: EventStore;
  secrets: SecretBox;
  renderer: TemplateRenderer;
  dispatcher: Dispatcher;
  webhook: Config['webhook'];
}

/** Preview and test send for one webhook step, with the same rules as a real delivery. */
export class StepTools {
  constructor(private readonly deps: StepToolsDeps) {}

  private webhookStep(flow: Flow, stepId: string): WebhookStep {
    const step = findStep(flow.steps, stepId);
    if (!step)
      throw new DomainError('not_found', 'not_found', `step ${stepId} was not found in flow ${flow.id}`);
    if (step.type !== 'webhook') {
      throw new DomainError(
        'invalid',
        'not_a_webhook',
        `step ${stepId} is a ${step.type} step; only webhook steps render a body`,
      );
    }
    return step;
  }

  private async context(
    flow: Flow,
    input: PreviewInput,
  ): Promise<{ context: RunContext; source: PreviewResult['contextSource'] }> {
    // Metric and price-drop flows have an event: a preview or test send may give its own.
    const hasEvent = flow.trigger.type === 'metric' || flow.trigger.type === 'price_drop';
    if (!hasEvent && input.event !== undefined) {
      throw new ValidationError([{ path: 'event', message: noEventMessage(flow.trigger) }]);
    }
    const sample = await sampleContext(this.deps.events, flow.trigger);
    if (!input.profile && !input.event) return { context: sample.context, source: sample.source };
    const profile = input.profile
      ? buildContext(input.profile, {}, 'prf_preview').person
      : sample.context.person;
    return { context: { person: profile, event: input.event ?? sample.context.event }, source: 'request' };
  }

  async preview(flow: Flow, stepId: string, input: PreviewInput): Promise<PreviewResult> {
    const step = this.webhookStep(flow, stepId);
    const { context, source } = await this.context(flow, input);
    const r = await this.deps.renderer.render(step.body, context);
    if (r.ok) return { body: r.body, valid: true, contextSource: source };
    return { body: r.error.excerpt ?? '', valid: false, error: r.error, contextSource: source };
  }

  /** One real POST. Not a delivery: nothing is recorded in analytics. */
  async testSend(flow: Flow, stepId: string, input: PreviewInput): Promise<TestSendResult> {
    const step = this.webhookStep(flow, stepId);
    const { context, source } = await this.context(flow, input);
    const prepared = await prepareRequest(step, context, this.deps);
    if (isOutcome(prepared)) {
      const r: TestSendResult = {
        sent: false,
        class: prepared.class,
        reason: prepared.reason,
        contextSource: source,
      };
      if (prepared.errorClass) r.errorClass = prepared.errorClass;
      return r;
    }
    const result = await sendWebhook(
      { ...prepared, idempotencyKey: `test_${crypto.randomUUID()}` },
      {
        dispatcher: this.deps.dispatcher,
        timeoutMs: this.deps.webhook.timeoutMs,
        maxResponseBytes: this.deps.webhook.maxResponseBytes,
        retryAfterMaxMs: this.deps.webhook.retryAfterMaxMs,
        redact: Object.values(prepared.headers),
      },
    );
    const out: TestSendResult = {
      sent: true,
      class: result.class,
      reason: result.reason,
      latencyMs: result.durationMs,
      contextSource: source,
    };
    if (result.httpStatus !== undefined) out.httpStatus = result.httpStatus;
    if (result.errorClass !== undefined) out.errorClass = result.errorClass;
    if (result.excerpt !== undefined) out.responseExcerpt = result.excerpt;
    return out;
  }
}
