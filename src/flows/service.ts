import crypto from 'node:crypto';
import type { EventStore } from '../db/event-store';
import type { FlowStore } from './store';
import type { FieldProblem } from '../errors';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import type { Principal } from '../permissions';
import { permissionError } from '../permissions';
import type { SecretBox } from '../secrets';
import { maskSealed } from '../secrets';
import type { TemplateRenderer } from '../templates';
import type { LiveCheckResult } from '../webhooks/live-check';
import type {
  CreateFlowInput,
  FilterDefinition,
  FilterRules,
  Flow,
  FlowDefinition,
  FlowSchedules,
  PatchFlowInput,
  Step,
  WebhookStep,
} from './model';
import { MAX_NAME, defaultReentry, findStep, reentryOf, stepPaths } from './model';
import { eventVariableProblems } from './event-variables';
import type { NewSigningSecret } from './normalize';
import { normalizeSteps } from './normalize';
import { generateSigningSecret } from '../webhooks/signing';
import { sampleContext } from './samples';
import type { NewAuditEntry } from '../db/audit-store';
import type { WebhookChange } from './webhook-changes';
import { gatedFields, needsWebhookPermission, webhookChanges, webhookSteps } from './webhook-changes';

/** Who is saving: the audit log records the user and key, the webhook rule reads the principal. */
export interface Actor {
  userId: string;
  apiKeyId: string | null;
  principal: Principal;
}

/** A step as the API shows it: header values and the signing secret masked, never in full. */
export type PublicStep =
  | (Omit<Extract<Step, { type: 'webhook' }>, 'headers' | 'signing'> & {
      headers: Record<string, string>;
      signing: boolean;
      signingSecret?: string;
    })
  | Extract<Step, { type: 'delay' }>
  | (Omit<Extract<Step, { type: 'split' }>, 'yes' | 'no'> & { yes: PublicStep[]; no: PublicStep[] });

export type PublicFlow = Omit<Flow, 'steps'> & { steps: PublicStep[] };

export function toPublicSteps(steps: readonly Step[]): PublicStep[] {
  return steps.map((s): PublicStep => {
    if (s.type === 'webhook') {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.headers)) headers[k] = maskSealed(v);
      const { signing, ...rest } = s;
      return signing
        ? { ...rest, headers, signing: true, signingSecret: maskSealed(signing.secret) }
        : { ...rest, headers, signing: false };
    }
    if (s.type === 'split') return { ...s, yes: toPublicSteps(s.yes), no: toPublicSteps(s.no) };
    return s;
  });
}

export function toPublicFlow(flow: Flow): PublicFlow {
  return { ...flow, steps: toPublicSteps(flow.steps) };
}

/** The result of checking one webhook step at save. `live` says whether the endpoint was contacted. */
export interface StepCheck {
  stepId: string;
  ok: boolean;
  live: boolean;
  error?: string;
  warnings: string[];
}

export interface SaveResult {
  flow: Flow;
  checks: StepCheck[];
  /** Signing secrets this save generated, in full: the only time they are shown. */
  signingSecrets: NewSigningSecret[];
}

/** A rotation's answer: the new secret in full (once) and when the previous one stops signing. */
export interface RotationResult {
  flow: Flow;
  stepId: string;
  secret: string;
  previousValidUntil: string;
}

export interface FlowServiceDeps {
  store: FlowStore;
  events: EventStore;
  secrets: SecretBox;
  renderer: TemplateRenderer;
  liveCheck(url: string): Promise<LiveCheckResult>;
  /** The outbound policy's verdict on a URL's destination; a message when it is blocked. */
  checkDestination(url: string): Promise<string | undefined>;
  /** Whether list `id` exists, for list triggers. */
  listExists(id: string): Promise<boolean>;
  /** Whether segment `id` exists, for segment triggers. */
  segmentExists(id: string): Promise<boolean>;
  /** The rules of flow and trigger filters (the audience layer's). */
  filters: FilterRules;
  /** Date flows' Temporal Schedules, kept in line after each save and delete. */
  schedules?: FlowSchedules;
  /** How long a rotated-out signing secret keeps signing (`HOOKFLOW_SIGNING_ROTATION_GRACE_SECONDS`). */
  signingGraceSeconds: number;
}

type Filters = Pick<FlowDefinition, 'flowFilters' | 'triggerFilters'>;

/**
 * The filters a save leaves on the flow: those sent (validated), `null` removes, absent keeps the
 * current ones. Trigger filters read the triggering event, so only metric flows may have them.
 */
export function applyFilters(
  sent: { flowFilters?: unknown; triggerFilters?: unknown },
  current: Filters,
  trigger: { type: string },
  rules: FilterRules,
): { filters: Filters; problems: FieldProblem[] } {
  const filters: Filters = {};
  const problems: FieldProblem[] = [];
  for (const kind of ['flowFilters', 'triggerFilters'] as const) {
    const raw = sent[kind];
    let value: FilterDefinition | undefined = current[kind];
    if (raw === null) value = undefined;
    else if (raw !== undefined) {
      const parsed = rules.parse(kind, raw);
      for (const p of parsed.problems) {
        problems.push({ path: p.path === '' ? kind : `${kind}.${p.path}`, message: p.message });
      }
      value = parsed.value;
    }
    if (value !== undefined) filters[kind] = value;
  }
  if (filters.triggerFilters !== undefined && trigger.type !== 'metric') {
    problems.push({
      path: 'triggerFilters',
      message: `trigger filters apply to metric-triggered flows only (this flow's trigger is ${trigger.type}); use flowFilters for conditions on the profile`,
    });
  }
  return { filters, problems };
}

/** Creating, changing and deleting flows; every change saves a new version after its checks pass. */
export class FlowService {
  constructor(private readonly deps: FlowServiceDeps) {}

  async create(input: CreateFlowInput, actor: Actor): Promise<SaveResult> {
    const { steps, problems, paths, signingSecrets } = normalizeSteps(input.steps, [], this.deps.secrets);
    const changes = webhookChanges([], steps);
    authorize(changes, actor);
    const { filters, problems: filterProblems } = applyFilters(input, {}, input.trigger, this.deps.filters);
    problems.push(...filterProblems);
    if (problems.length) throw new ValidationError(problems);
    const now = new Date().toISOString();
    const flow: Flow = {
      id: `flw_${crypto.randomBytes(8).toString('hex')}`,
      name: input.name,
      status: input.status,
      trigger: input.trigger,
      steps,
      reentry: input.reentry ?? defaultReentry(input.trigger),
      ...filters,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    const checks = await this.check(flow, undefined, paths);
    await this.deps.store.insert(flow, auditEntries(flow.id, changes, actor, now), savedBy(actor));
    await this.deps.schedules?.saved(flow, undefined);
    return { flow, checks, signingSecrets };
  }

  /**
   * A draft copy of flow `id`, named "<name> (copy)". Step ids are kept (they are unique within a
   * flow, and deliveries are keyed by flow and step), and so are the sealed header values: masked
   * values could not be sent back by the caller. The copy adds its webhook steps, so it needs what
   * a create with those steps needs (`webhooks:change`), and passes the same save-time checks.
   */
  async duplicate(id: string, actor: Actor): Promise<SaveResult> {
    const source = await this.get(id);
    const changes = webhookChanges([], source.steps);
    authorize(changes, actor);
    const now = new Date().toISOString();
    const suffix = ' (copy)';
    const flow: Flow = {
      id: `flw_${crypto.randomBytes(8).toString('hex')}`,
      name: `${source.name.slice(0, MAX_NAME - suffix.length)}${suffix}`,
      status: 'draft',
      trigger: source.trigger,
      steps: source.steps,
      reentry: reentryOf(source),
      ...(source.flowFilters !== undefined ? { flowFilters: source.flowFilters } : {}),
      ...(source.triggerFilters !== undefined ? { triggerFilters: source.triggerFilters } : {}),
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    const checks = await this.check(flow, undefined, stepPaths(flow.steps));
    await this.deps.store.insert(flow, auditEntries(flow.id, changes, actor, now), savedBy(actor));
    await this.deps.schedules?.saved(flow, undefined);
    // The copy signs with the source's secrets, as it sends the source's header values.
    return { flow, checks, signingSecrets: [] };
  }

  async get(id: string): Promise<Flow> {
    const flow = await this.deps.store.get(id);
    if (!flow) throw new NotFoundError(`flow ${id}`);
    return flow;
  }

  list(): Promise<Flow[]> {
    return this.deps.store.list();
  }

  async patch(id: string, patch: PatchFlowInput, actor: Actor): Promise<SaveResult> {
    const current = await this.get(id);
    let steps = current.steps;
    let paths = new Map<string, string>();
    let changes: WebhookChange[] = [];
    let signingSecrets: NewSigningSecret[] = [];
    if (patch.steps !== undefined) {
      const normalized = normalizeSteps(patch.steps, current.steps, this.deps.secrets);
      changes = webhookChanges(current.steps, normalized.steps);
      authorize(changes, actor);
      if (normalized.problems.length) throw new ValidationError(normalized.problems);
      steps = normalized.steps;
      paths = normalized.paths;
      signingSecrets = normalized.signingSecrets;
    } else {
      paths = stepPaths(current.steps);
    }
    const trigger = patch.trigger ?? current.trigger;
    // A trigger of another kind brings its own default unless the patch says otherwise.
    const kindChanged = trigger.type !== current.trigger.type;
    const { filters, problems: filterProblems } = applyFilters(patch, current, trigger, this.deps.filters);
    if (filterProblems.length) throw new ValidationError(filterProblems);
    const next: Flow = {
      id: current.id,
      name: patch.name ?? current.name,
      status: patch.status ?? current.status,
      trigger,
      reentry:
        patch.reentry ??
        (kindChanged ? defaultReentry(trigger) : (current.reentry ?? defaultReentry(trigger))),
      steps,
      ...filters,
      createdAt: current.createdAt,
      version: current.version + 1,
      updatedAt: new Date().toISOString(),
    };
    const checks = await this.check(next, current, paths);
    const audit = auditEntries(id, changes, actor, next.updatedAt);
    if (!(await this.deps.store.update(next, current.version, audit, savedBy(actor)))) {
      throw new ConflictError(
        'conflict',
        `flow ${id} was changed by another request; fetch it and try again`,
      );
    }
    await this.deps.schedules?.saved(next, current);
    return { flow: next, checks, signingSecrets };
  }

  /**
   * A new signing secret for webhook step `stepId`. The one before keeps signing for the grace
   * period, so receivers can move to the new secret without refusing a request. Saved as a new
   * version (runs in flight too: the worker signs with a step's current secrets) and audited as a
   * change of `signing.secret`.
   */
  async rotateSigningSecret(id: string, stepId: string, actor: Actor): Promise<RotationResult> {
    const current = await this.get(id);
    const step = findStep(current.steps, stepId);
    if (step?.type !== 'webhook') throw new NotFoundError(`webhook step ${stepId} of flow ${id}`);
    if (!step.signing) {
      throw new ConflictError(
        'signing_off',
        `webhook step ${stepId} does not sign its requests; save it with "signing": true to get a secret`,
      );
    }
    const secret = generateSigningSecret();
    const now = new Date();
    const previousValidUntil = new Date(now.getTime() + this.deps.signingGraceSeconds * 1000).toISOString();
    const rotated: WebhookStep = {
      ...step,
      signing: {
        secret: this.deps.secrets.seal(secret),
        previous: { secret: step.signing.secret, until: previousValidUntil },
      },
    };
    const steps = replaceStep(current.steps, rotated);
    const changes = webhookChanges(current.steps, steps);
    authorize(changes, actor);
    const next: Flow = { ...current, steps, version: current.version + 1, updatedAt: now.toISOString() };
    const audit = auditEntries(id, changes, actor, next.updatedAt);
    if (!(await this.deps.store.update(next, current.version, audit, savedBy(actor)))) {
      throw new ConflictError(
        'conflict',
        `flow ${id} was changed by another request; fetch it and try again`,
      );
    }
    await this.deps.schedules?.saved(next, current);
    return { flow: next, stepId, secret, previousValidUntil };
  }

  /** Deleting a flow removes its webhook steps, so the webhook rule applies when it has any. */
  async delete(id: string, actor: Actor): Promise<void> {
    const current = await this.get(id);
    const changes = webhookChanges(current.steps, []);
    authorize(changes, actor);
    const audit = auditEntries(id, changes, actor, new Date().toISOString());
    if (!(await this.deps.store.delete(id, current.version, audit))) {
      throw new ConflictError(
        'conflict',
        `flow ${id} was changed by another request; fetch it and try again`,
      );
    }
    if (current.trigger.type === 'date') await this.deps.schedules?.deleted(id);
  }

  /**
   * Save-time checks: every changed body must render to JSON with sample data for the trigger,
   * and, when the flow is (or goes) live, every new or changed URL gets the live check.
   * Throws a ValidationError naming each problem; returns the per-step results otherwise.
   */
  private async check(
    next: Flow,
    previous: Flow | undefined,
    paths: Map<string, string>,
  ): Promise<StepCheck[]> {
    const before = new Map(previous ? webhookSteps(previous.steps).map((s) => [s.id, s]) : []);
    const triggerChanged = !previous || JSON.stringify(previous.trigger) !== JSON.stringify(next.trigger);
    const goingLive = next.status === 'live' && previous?.status !== 'live';
    const hooks = webhookSteps(next.steps);
    const path = (s: WebhookStep) => paths.get(s.id) ?? `steps(${s.id})`;

    const problems: FieldProblem[] = [];
    if (
      triggerChanged &&
      next.trigger.type === 'list' &&
      !(await this.deps.listExists(next.trigger.listId))
    ) {
      problems.push({ path: 'trigger.listId', message: `list ${next.trigger.listId} was not found` });
    }
    if (
      triggerChanged &&
      next.trigger.type === 'segment' &&
      !(await this.deps.segmentExists(next.trigger.segmentId))
    ) {
      problems.push({
        path: 'trigger.segmentId',
        message: `segment ${next.trigger.segmentId} was not found`,
      });
    }
    // Every step is checked, not only changed ones: a trigger change can make an old body invalid.
    const eventUses = eventVariableProblems(
      next.trigger,
      next.steps,
      paths.size ? paths : stepPaths(next.steps),
    );
    problems.push(...eventUses);
    const refused = new Set(eventUses.map((p) => p.path));
    const toRender = hooks.filter(
      (s) => (triggerChanged || before.get(s.id)?.body !== s.body) && !refused.has(`${path(s)}.body`),
    );
    if (toRender.length > 0) {
      const sample = await sampleContext(this.deps.events, next.trigger);
      const results = await Promise.all(
        toRender.map((s) => this.deps.renderer.render(s.body, sample.context)),
      );
      results.forEach((r, i) => {
        if (r.ok) return;
        const problem: FieldProblem = {
          path: `${path(toRender[i]!)}.body`,
          message: `${r.error.message} (rendered with ${sample.source === 'sample' ? 'sample data' : 'the latest event of the trigger'})`,
        };
        if (r.error.line !== undefined) problem.line = r.error.line;
        if (r.error.column !== undefined) problem.column = r.error.column;
        if (r.error.excerpt !== undefined) problem.excerpt = r.error.excerpt;
        problems.push(problem);
      });
    }
    // Outbound safety, for every new or changed URL, draft or live.
    const moved = hooks.filter((s) => before.get(s.id)?.url !== s.url);
    const verdicts = await Promise.all(moved.map((s) => this.deps.checkDestination(s.url)));
    verdicts.forEach((why, i) => {
      if (why) problems.push({ path: `${path(moved[i]!)}.url`, message: why });
    });
    if (problems.length) throw new ValidationError(problems);

    const checks = await Promise.all(
      hooks.map(async (s): Promise<StepCheck> => {
        const live = next.status === 'live' && (goingLive || before.get(s.id)?.url !== s.url);
        if (!live) return { stepId: s.id, ok: true, live: false, warnings: [] };
        const r = await this.deps.liveCheck(s.url);
        const check: StepCheck = { stepId: s.id, ok: r.ok, live: true, warnings: r.warnings };
        if (r.error !== undefined) check.error = r.error;
        return check;
      }),
    );
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      throw new ValidationError(
        failed.map((c) => ({
          path: `${path(hooks.find((h) => h.id === c.stepId)!)}.url`,
          message: c.error ?? 'failed',
        })),
        'a flow cannot go live while a webhook check fails',
        { checks },
      );
    }
    return checks;
  }
}

/** Refuses a save that touches webhooks the way only `webhooks:change` may (naming the step). */
function authorize(changes: readonly WebhookChange[], actor: Actor): void {
  const refusal = permissionError(actor.principal, 'webhooks:change');
  const gated = changes.find(needsWebhookPermission);
  if (!refusal || !gated) return;
  const what =
    gated.action === 'webhook.added'
      ? `adds webhook step ${gated.stepId}`
      : gated.action === 'webhook.removed'
        ? `removes webhook step ${gated.stepId}`
        : `changes ${gatedFields(gated).join(', ')} of webhook step ${gated.stepId}`;
  throw new ForbiddenError(refusal.code, `this save ${what}: ${refusal.message}`, refusal.extra);
}

/** `steps` with the step of `step.id` replaced, nested branches included. */
function replaceStep(steps: readonly Step[], step: Step): Step[] {
  return steps.map((s) => {
    if (s.id === step.id) return step;
    if (s.type === 'split') return { ...s, yes: replaceStep(s.yes, step), no: replaceStep(s.no, step) };
    return s;
  });
}

const savedBy = (actor: Actor) => ({ userId: actor.userId, apiKeyId: actor.apiKeyId });

function auditEntries(
  flowId: string,
  changes: readonly WebhookChange[],
  actor: Actor,
  at: string,
): NewAuditEntry[] {
  return changes.map((c) => ({
    at,
    user_id: actor.userId,
    api_key_id: actor.apiKeyId,
    action: c.action,
    flow_id: flowId,
    step_id: c.stepId,
    fields: JSON.stringify(c.fields),
  }));
}
