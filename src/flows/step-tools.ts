import crypto from 'node:crypto';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import type { Config } from '../config';
import type { CatalogStore } from '../db/catalog-store';
import type { EventRecord, EventStore } from '../db/event-store';
import { DomainError, NotFoundError, ValidationError } from '../errors';
import { noEventMessage } from './event-variables';
import { buildContext } from '../templates/context';
import type { SecretBox } from '../secrets';
import type { JsonProblem, TemplateRenderer } from '../templates';
import type { OutcomeClass } from '../webhooks/classify';
import { isOutcome, prepareRequest } from '../webhooks/delivery';
import { sendWebhook } from '../webhooks/send';
import type { Flow, WebhookStep } from './model';
import { findStep } from './model';
import {
  ORDER_ITEM_KEYS,
  ORDER_LIST_KEYS,
  PRICE_DROP_METRICS,
  VIEWED_ITEM_KEYS,
  priceDropEvent,
} from './price-drop';
import type { RunContext } from '../shared/run-types';
import type { SampleContext } from './samples';
import { sampleContext } from './samples';

const sampleShape = {
  /** A profile as events carry it (its fields and `properties`), instead of a stored one. */
  profile: z.record(z.string(), z.unknown()).optional(),
  /** Event properties, instead of a stored event's. */
  event: z.record(z.string(), z.unknown()).optional(),
  /** A stored profile to render for (`prf_…`). */
  profileId: z.string().min(1).max(200).optional(),
  /** A stored event of the trigger to render with (for metric and price-drop flows). */
  eventId: z.string().min(1).max(200).optional(),
};

/** A draft body, as the webhook step's `body` is checked. */
const draftBody = z
  .string({ error: 'must be a template string' })
  .min(1, 'must not be empty')
  .max(100_000, 'must be at most 100000 characters');

/** Optional data to test-send with: a profile and event given inline, or stored ones by id. */
export const testSendSchema = z.strictObject(sampleShape).default({});
/** The same for a preview, which may also render a draft `body` instead of the saved one. */
export const previewSchema = z.strictObject({ ...sampleShape, body: draftBody.optional() }).default({});
/** A preview of a body not saved in any step yet (`POST /api/flows/:id/preview`). */
export const draftPreviewSchema = z.strictObject({ ...sampleShape, body: draftBody });
export type PreviewInput = z.infer<typeof previewSchema>;
type SampleInput = z.infer<typeof testSendSchema>;

export interface PreviewResult {
  body: string;
  valid: boolean;
  error?: JsonProblem;
  /**
   * Where the context came from: given in the request (`request`), stored profile or event chosen
   * by id (`chosen`), the latest real event of the trigger, or sample data.
   */
  contextSource: 'request' | 'chosen' | SampleContext['source'];
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
  catalog: CatalogStore;
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
    input: SampleInput,
  ): Promise<{ context: RunContext; source: PreviewResult['contextSource'] }> {
    // Metric and price-drop flows have an event: a preview or test send may give its own.
    const hasEvent = flow.trigger.type === 'metric' || flow.trigger.type === 'price_drop';
    if (!hasEvent && input.event !== undefined) {
      throw new ValidationError([{ path: 'event', message: noEventMessage(flow.trigger) }]);
    }
    if (!hasEvent && input.eventId !== undefined) {
      throw new ValidationError([{ path: 'eventId', message: noEventMessage(flow.trigger) }]);
    }
    const sample = await sampleContext(this.deps.events, flow.trigger);
    const stored = await this.chosen(flow, input);
    if (!input.profile && !input.event && !stored.profile && !stored.event) {
      return { context: sample.context, source: sample.source };
    }
    let person = sample.context.person;
    if (input.profile) person = buildContext(input.profile, {}, 'prf_preview').person;
    else if (stored.profile) person = stored.profile;
    const event = input.event ?? stored.event ?? sample.context.event;
    return { context: { person, event }, source: input.profile || input.event ? 'request' : 'chosen' };
  }

  /**
   * The stored profile and event a preview asked for by id: an unknown one is a 404; an event that
   * is not of this flow's trigger, or of another profile than the one chosen, a 422.
   */
  private async chosen(
    flow: Flow,
    input: SampleInput,
  ): Promise<{ profile?: RunContext['person']; event?: RunContext['event'] }> {
    const out: { profile?: RunContext['person']; event?: RunContext['event'] } = {};
    const stored = input.eventId !== undefined ? await this.deps.events.getEvent(input.eventId) : undefined;
    if (input.eventId !== undefined && !stored) throw new NotFoundError(`event ${input.eventId}`);
    if (input.profileId !== undefined) {
      const data = await this.deps.events.profileData(input.profileId);
      if (data === undefined) throw new NotFoundError(`profile ${input.profileId}`);
      out.profile = buildContext(JSON.parse(data) as Record<string, unknown>, {}, input.profileId).person;
    }
    if (stored) {
      if (input.profileId !== undefined && stored.profileId !== input.profileId) {
        throw new ValidationError([
          {
            path: 'eventId',
            message: `event ${stored.id} belongs to another profile than ${input.profileId}; choose one of its own events`,
          },
        ]);
      }
      // Without a chosen profile, the event's profile as it arrived, as its run would see it.
      out.profile ??= buildContext(stored.profile, {}, stored.profileId).person;
      out.event = await this.eventContext(flow, stored);
    }
    return out;
  }

  /** A metric flow renders the event itself; a price-drop flow the drop of the item the event names. */
  private async eventContext(flow: Flow, stored: EventRecord): Promise<RunContext['event']> {
    const trigger = flow.trigger;
    if (trigger.type === 'metric') {
      if (stored.metric !== trigger.metric) {
        throw new ValidationError([
          {
            path: 'eventId',
            message: `event ${stored.id} is a "${stored.metric}" event; this flow is triggered by "${trigger.metric}"`,
          },
        ]);
      }
      return { ...stored.properties };
    }
    if (trigger.type !== 'price_drop') throw new Error(`trigger ${trigger.type} has no event`);
    const metrics = trigger.audience.map((a) => PRICE_DROP_METRICS[a]);
    const itemId = metrics.includes(stored.metric as (typeof metrics)[number])
      ? namedItem(stored.properties)
      : undefined;
    if (itemId === undefined) {
      throw new ValidationError([
        {
          path: 'eventId',
          message: `event ${stored.id} is a "${stored.metric}" event; a price-drop flow previews with a ${metrics.map((m) => `"${m}"`).join(' or ')} event that names a catalog item`,
        },
      ]);
    }
    const item = await this.deps.catalog.get(itemId);
    if (!item) {
      throw new ValidationError([
        { path: 'eventId', message: `event ${stored.id} names item ${itemId}, which is not in the catalog` },
      ]);
    }
    // The item's last price change stands for the drop; without one, the current price twice.
    const [latest, before] = await this.deps.catalog.priceHistory(item.id, 2);
    const change = { previous: before?.price ?? latest?.price ?? item.price, price: item.price };
    return priceDropEvent(
      { id: item.id, title: item.title, url: item.url, imageUrl: item.image_url },
      change,
      item.currency,
    );
  }

  async preview(flow: Flow, stepId: string, input: PreviewInput): Promise<PreviewResult> {
    const step = this.webhookStep(flow, stepId);
    return this.render(flow, input.body ?? step.body, input);
  }

  /** A body not saved in a step yet, rendered with the saved flow's trigger. */
  async previewDraft(flow: Flow, input: SampleInput & { body: string }): Promise<PreviewResult> {
    return this.render(flow, input.body, input);
  }

  private async render(flow: Flow, body: string, input: SampleInput): Promise<PreviewResult> {
    const { context, source } = await this.context(flow, input);
    const r = await this.deps.renderer.render(body, context);
    if (r.ok) return { body: r.body, valid: true, contextSource: source };
    return { body: r.error.excerpt ?? '', valid: false, error: r.error, contextSource: source };
  }

  /** One real POST. Not a delivery: nothing is recorded in analytics. */
  async testSend(flow: Flow, stepId: string, input: SampleInput): Promise<TestSendResult> {
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
        redact: [...Object.values(prepared.headers), ...(prepared.signingSecrets ?? [])],
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

/** The catalog item an audience event names: a viewed product's id, else the first order line's. */
function namedItem(properties: Record<string, unknown>): string | undefined {
  const id = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  for (const k of VIEWED_ITEM_KEYS) {
    const v = id(properties[k]);
    if (v !== undefined) return v;
  }
  for (const list of ORDER_LIST_KEYS) {
    const entries = properties[list];
    if (!Array.isArray(entries)) continue;
    for (const e of entries) {
      if (e === null || typeof e !== 'object') continue;
      for (const k of ORDER_ITEM_KEYS) {
        const v = id((e as Record<string, unknown>)[k]);
        if (v !== undefined) return v;
      }
    }
  }
  return undefined;
}
