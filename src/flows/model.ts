import { z } from 'zod';
import { FLOW_STATUSES } from '../db/schema';
import type { SealedValue } from '../secrets';
import type { RetrySettings } from '../shared/retry';
import { isKnownTimeZone } from '../shared/time-zones';

/** Step ids appear in URLs and activity ids: keep them short and URL-safe. */
export const STEP_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_STEPS = 200;
export const MAX_NESTING = 16;
export const MAX_DELAY_SECONDS = 366 * 24 * 3600;

const stepId = z.string().regex(STEP_ID_PATTERN, 'must be 1-64 letters, digits, "-" or "_"').optional();

/** A step's own retry settings, each optional: exactly the settings of {@link RetrySettings}. */
const retryOverrideShape = {
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  initialIntervalMs: z.number().int().min(1).max(86_400_000).optional(),
  backoffCoefficient: z.number().min(1).max(10).optional(),
  maxIntervalMs: z
    .number()
    .int()
    .min(1)
    .max(7 * 86_400_000)
    .optional(),
} satisfies Record<keyof RetrySettings, z.ZodOptional<z.ZodNumber>>;

export const retryOverrideSchema = z
  .strictObject(retryOverrideShape)
  .refine(
    (r) =>
      r.initialIntervalMs === undefined ||
      r.maxIntervalMs === undefined ||
      r.maxIntervalMs >= r.initialIntervalMs,
    { message: 'maxIntervalMs must be at least initialIntervalMs', path: ['maxIntervalMs'] },
  );
export type RetryOverride = z.infer<typeof retryOverrideSchema>;

/**
 * A step's own endpoint protection limits (issue 16), over the configured defaults: each optional.
 * They bound this step's requests; other steps to the same destination keep theirs.
 */
export const destinationLimitsOverrideSchema = z.strictObject({
  concurrency: z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(100_000, 'must be at most 100000')
    .optional(),
  ratePerSecond: z
    .number({ error: 'must be a number' })
    .min(0, 'must not be negative (0: unlimited)')
    .max(100_000, 'must be at most 100000')
    .optional(),
});
export type DestinationLimitsOverride = z.infer<typeof destinationLimitsOverrideSchema>;

export const webhookStepSchema = z.strictObject({
  id: stepId,
  type: z.literal('webhook'),
  name: z.string().max(200).optional(),
  /** Accepted only so that a user who sets it gets a clear answer. */
  method: z
    .string()
    .optional()
    .refine((m) => m === undefined || m.toUpperCase() === 'POST', 'webhooks send POST only'),
  url: z.string({ error: 'is required and must be a string' }).max(2048, 'must be at most 2048 characters'),
  headers: z.record(z.string(), z.string({ error: 'header values must be strings' })).default({}),
  body: z
    .string({ error: 'is required and must be a template string' })
    .min(1, 'must not be empty')
    .max(100_000, 'must be at most 100000 characters'),
  retry: retryOverrideSchema.optional(),
  /** Endpoint protection limits of this step's requests, over the defaults. */
  limits: destinationLimitsOverrideSchema.optional(),
  /** Standard Webhooks signing; new steps sign unless this is `false`, existing steps keep their choice. */
  signing: z.boolean({ error: 'must be true or false' }).optional(),
  /** Only the masked value a read answers, sent back to keep the secret (hookflow generates secrets). */
  signingSecret: z.string().optional(),
});

export const delayStepSchema = z.strictObject({
  id: stepId,
  type: z.literal('delay'),
  seconds: z
    .number({ error: 'is required and must be a number of seconds' })
    .int('must be a whole number of seconds')
    .min(0, 'must not be negative')
    .max(MAX_DELAY_SECONDS, `must be at most ${MAX_DELAY_SECONDS} (366 days)`),
});

export interface WebhookStepInput extends Omit<z.infer<typeof webhookStepSchema>, 'headers'> {
  headers?: Record<string, string>;
}
export type DelayStepInput = z.infer<typeof delayStepSchema>;
export interface SplitStepInput {
  id?: string | undefined;
  type: 'split';
  condition: string;
  yes: StepInput[];
  no: StepInput[];
}
export type StepInput = WebhookStepInput | DelayStepInput | SplitStepInput;

export const splitStepSchema: z.ZodType<SplitStepInput> = z.strictObject({
  id: stepId,
  type: z.literal('split'),
  condition: z
    .string({ error: 'is required and must be an expression' })
    .min(1, 'must not be empty')
    .max(2000),
  get yes() {
    return z.array(stepSchema).default([]);
  },
  get no() {
    return z.array(stepSchema).default([]);
  },
}); // zod cannot infer through the recursive getters

export const stepSchema: z.ZodType<StepInput> = z.discriminatedUnion(
  'type',
  [webhookStepSchema, delayStepSchema, splitStepSchema as never],
  { error: 'type must be one of "webhook", "delay", "split"' },
);

/**
 * Metrics that record a customer leaving or refusing: a flow must never start from them (issue 11).
 * Compared case-insensitively.
 */
export const REFUSAL_METRICS = [
  'Unsubscribed',
  'Unsubscribed from List',
  'Unsubscribed from SMS',
  'Marked Email as Spam',
] as const;

export function isRefusalMetric(metric: string): boolean {
  const m = metric.trim().toLowerCase();
  return REFUSAL_METRICS.some((r) => r.toLowerCase() === m);
}

const refId = (what: string) =>
  z
    .string({ error: `is required: the ${what} id` })
    .trim()
    .min(1, 'must not be empty')
    .max(100);

/** The largest offset of a date trigger, per unit: up to a year either side of the date. */
export const MAX_DATE_OFFSET = { days: 365, weeks: 52, months: 12 } as const;

/** A date-property trigger: runs start at local `time` on the day `offset` from each occurrence of the date. */
export const dateTriggerSchema = z.strictObject({
  type: z.literal('date'),
  property: z
    .string({ error: 'is required: the profile property holding the date' })
    .trim()
    .min(1, 'must not be empty')
    .max(200),
  offset: z
    .strictObject({
      value: z
        .number({ error: 'is required and must be a number' })
        .int('must be a whole number')
        .min(0, 'must not be negative (use direction "before")'),
      unit: z.enum(['days', 'weeks', 'months'], { error: 'must be "days", "weeks" or "months"' }),
      direction: z.enum(['before', 'after'], { error: 'must be "before" or "after"' }),
    })
    .default({ value: 0, unit: 'days', direction: 'after' })
    .refine((o) => o.value <= MAX_DATE_OFFSET[o.unit], {
      message: `is out of range: at most ${MAX_DATE_OFFSET.days} days, ${MAX_DATE_OFFSET.weeks} weeks or ${MAX_DATE_OFFSET.months} months`,
      path: ['value'],
    }),
  recurrence: z
    .enum(['annually', 'monthly', 'weekly', 'never'], {
      error: 'must be "annually", "monthly", "weekly" or "never"',
    })
    .default('annually'),
  time: z
    .string({ error: 'is required: local time as HH:MM' })
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a 24-hour time HH:MM, e.g. "09:00"')
    .default('09:00'),
  timezone: z
    .string({ error: 'must be "profile" or an IANA time zone' })
    .refine((z) => z === 'profile' || isKnownTimeZone(z), 'is not a known IANA time zone (or "profile")')
    .default('profile'),
});
export type DateTrigger = z.infer<typeof dateTriggerSchema>;

/** What counts as a drop: at least `amount` (in the item's currency) or `percent` below the previous price. */
export const priceDropThresholdSchema = z.union(
  [
    z.strictObject({ amount: z.number().gt(0, 'must be greater than 0') }),
    z.strictObject({ percent: z.number().gt(0, 'must be greater than 0').max(100, 'must be at most 100') }),
  ],
  { error: 'must be { "amount": n } or { "percent": n }, n greater than 0' },
);
export type PriceDropThreshold = z.infer<typeof priceDropThresholdSchema>;

/** Who a price drop is for: profiles that viewed the item, or started a checkout containing it. */
export const PRICE_DROP_AUDIENCES = ['viewed', 'started_checkout'] as const;

/** Price-drop flows (issue 12): an item of the catalog got cheaper. */
export const priceDropTriggerSchema = z.strictObject({
  type: z.literal('price_drop'),
  threshold: priceDropThresholdSchema,
  audience: z
    .array(z.enum(PRICE_DROP_AUDIENCES, { error: 'each must be "viewed" or "started_checkout"' }))
    .min(1, 'must name at least one of "viewed", "started_checkout"')
    .default(['viewed', 'started_checkout']),
  lookbackDays: z
    .number()
    .int('must be a whole number of days')
    .min(1, 'must be at least 1')
    .max(365, 'must be at most 365')
    .default(30),
});
export type PriceDropTrigger = z.infer<typeof priceDropTriggerSchema>;

export const triggerSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('metric'),
      metric: z
        .string({ error: 'is required' })
        .trim()
        .min(1, 'must not be empty')
        .max(200)
        .refine(
          (m) => !isRefusalMetric(m),
          'records a customer leaving or refusing: metrics such as Unsubscribed, Unsubscribed from List, Unsubscribed from SMS and Marked Email as Spam cannot trigger a flow',
        ),
    }),
    z.strictObject({ type: z.literal('list'), listId: refId('list') }),
    z.strictObject({ type: z.literal('segment'), segmentId: refId('segment') }),
    dateTriggerSchema,
    priceDropTriggerSchema,
  ],
  { error: 'type must be one of "metric", "list", "segment", "date", "price_drop"' },
);
export type Trigger = z.infer<typeof triggerSchema>;

/** May a profile enter a flow again: never, always, or once `seconds` have passed since its last entry. */
export const reentrySchema = z
  .strictObject({
    mode: z.enum(['never', 'always', 'after'], { error: 'must be "never", "always" or "after"' }),
    seconds: z
      .number()
      .int('must be a whole number of seconds')
      .min(1, 'must be at least 1')
      .max(10 * 366 * 24 * 3600)
      .optional(),
  })
  .refine((r) => r.mode !== 'after' || r.seconds !== undefined, {
    message: 'is required when mode is "after"',
    path: ['seconds'],
  })
  .refine((r) => r.mode === 'after' || r.seconds === undefined, {
    message: 'is only for mode "after"',
    path: ['seconds'],
  });
export type Reentry = z.infer<typeof reentrySchema>;

/**
 * List and segment flows let a profile in once; metric flows run for every event, as they always
 * did; date flows run for every occurrence of the date (each occurrence enters once, by its id).
 */
export function defaultReentry(trigger: Trigger): Reentry {
  return trigger.type === 'metric' || trigger.type === 'date' ? { mode: 'always' } : { mode: 'never' };
}

/** The re-entry rule a flow follows (flows saved before re-entry existed follow their trigger's default). */
export function reentryOf(flow: { trigger: Trigger; reentry?: Reentry | undefined }): Reentry {
  return flow.reentry ?? defaultReentry(flow.trigger);
}

/** How a template of this flow's trigger is described in messages: "list-triggered flows". */
export function triggerLabel(trigger: Trigger): string {
  return `${trigger.type}-triggered flows`;
}

export const flowStatusSchema = z.enum(FLOW_STATUSES, { error: 'must be "draft" or "live"' });
export type FlowStatus = z.infer<typeof flowStatusSchema>;

/** The longest flow name. */
export const MAX_NAME = 200;
const name = z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(MAX_NAME);

/**
 * Flow filters and trigger filters as a flow keeps them: `{ groups: [ { conditions } ] }`. Their
 * rules (condition types, operators, values) belong to the audience layer
 * (`src/audience/conditions.ts`), above this one, so the flow service is given them
 * ({@link FilterRules}); the request schemas here take the value as it comes.
 */
export interface FilterDefinition {
  groups: { conditions: Record<string, unknown>[] }[];
}

/** Checks filters sent with a flow; `problems` paths are relative to the filters (`groups.0…`). */
export interface FilterRules {
  parse(
    kind: 'flowFilters' | 'triggerFilters',
    raw: unknown,
  ): { value?: FilterDefinition; problems: { path: string; message: string }[] };
}

export const createFlowSchema = z.strictObject({
  name,
  trigger: triggerSchema,
  status: flowStatusSchema.default('draft'),
  steps: z.array(stepSchema).default([]),
  reentry: reentrySchema.optional(),
  /** Conditions on the profile, checked at entry and before every webhook step. */
  flowFilters: z.unknown().optional(),
  /** Metric flows: conditions on the triggering event, checked once at entry. */
  triggerFilters: z.unknown().optional(),
});
export type CreateFlowInput = z.infer<typeof createFlowSchema>;

export const patchFlowSchema = z
  .strictObject({
    name: name.optional(),
    trigger: triggerSchema.optional(),
    status: flowStatusSchema.optional(),
    steps: z.array(stepSchema).optional(),
    reentry: reentrySchema.optional(),
    /** `null` removes them. */
    flowFilters: z.unknown().optional(),
    triggerFilters: z.unknown().optional(),
  })
  .refine((p) => Object.values(p).some((v) => v !== undefined), {
    message: 'send at least one of name, status, trigger, steps, reentry, flowFilters, triggerFilters',
  });
export type PatchFlowInput = z.infer<typeof patchFlowSchema>;

export interface WebhookStep {
  id: string;
  type: 'webhook';
  name?: string;
  url: string;
  headers: Record<string, SealedValue>;
  body: string;
  retry?: RetryOverride;
  /** Endpoint protection limits over the configured defaults (issue 16). */
  limits?: DestinationLimitsOverride;
  /** Absent: requests are not signed (steps saved before signing existed stay so until turned on). */
  signing?: StepSigning;
}

/** A step's Standard Webhooks secrets, sealed like header values. */
export interface StepSigning {
  secret: SealedValue;
  /** The secret before the last rotation: it signs too until `until` (ISO time). */
  previous?: { secret: SealedValue; until: string };
}
export interface DelayStep {
  id: string;
  type: 'delay';
  seconds: number;
}
export interface SplitStep {
  id: string;
  type: 'split';
  condition: string;
  yes: Step[];
  no: Step[];
}
export type Step = WebhookStep | DelayStep | SplitStep;

/** One version of a flow as stored in `flow_versions.definition`. */
export interface FlowDefinition {
  name: string;
  status: FlowStatus;
  trigger: Trigger;
  steps: Step[];
  /** Set on every save since issue 11; older versions follow {@link defaultReentry}. */
  reentry?: Reentry;
  flowFilters?: FilterDefinition;
  triggerFilters?: FilterDefinition;
}

export interface Flow extends FlowDefinition {
  id: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/**
 * Keeps whatever runs on a schedule for a flow (date flows' Temporal Schedules) in line with it;
 * implemented in `src/temporal/schedules.ts`, called by the flow service after each save.
 */
export interface FlowSchedules {
  saved(flow: Flow, previous: Flow | undefined): Promise<void>;
  deleted(flowId: string): Promise<void>;
}

/** Visits every step, nested branches included, in document order. */
export function* walkSteps(steps: readonly Step[]): Generator<Step> {
  for (const step of steps) {
    yield step;
    if (step.type === 'split') {
      yield* walkSteps(step.yes);
      yield* walkSteps(step.no);
    }
  }
}

export function findStep(steps: readonly Step[], id: string): Step | undefined {
  for (const s of walkSteps(steps)) if (s.id === id) return s;
  return undefined;
}

/** Each step's path in the flow document, e.g. `steps.0.yes.1`, as validation errors name it. */
export function stepPaths(
  steps: readonly Step[],
  prefix = 'steps',
  out = new Map<string, string>(),
): Map<string, string> {
  steps.forEach((s, i) => {
    out.set(s.id, `${prefix}.${i}`);
    if (s.type === 'split') {
      stepPaths(s.yes, `${prefix}.${i}.yes`, out);
      stepPaths(s.no, `${prefix}.${i}.no`, out);
    }
  });
  return out;
}
