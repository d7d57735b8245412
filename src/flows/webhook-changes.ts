import type { SealedValue } from '../secrets';
import type { Step, WebhookStep } from './model';
import { walkSteps } from './model';

/** One webhook step's change in a save, as the audit log records it: field names, never values. */
export interface WebhookChange {
  action: 'webhook.added' | 'webhook.changed' | 'webhook.removed';
  stepId: string;
  /**
   * `url`, `body`, `name`, `retry`, `headers.<Name>`, `signing` (turned on or off),
   * `signing.secret` (rotated); empty for added and removed steps.
   */
  fields: string[];
}

/** The webhook steps of a flow, nested ones included, in step order. */
export const webhookSteps = (steps: readonly Step[]): WebhookStep[] =>
  [...walkSteps(steps)].filter((s): s is WebhookStep => s.type === 'webhook');

const hooks = (steps: readonly Step[]) => new Map(webhookSteps(steps).map((s) => [s.id, s]));

/**
 * A header is unchanged only when its stored value was kept (sent back masked). A value sent in
 * full counts as set, even if it equals the stored one: otherwise a caller without the webhook
 * rule could confirm a guess of a secret by whether the save is refused.
 */
function headerChanges(a: WebhookStep, b: WebhookStep): string[] {
  const sealedId = (v: SealedValue) => `${v.kid}.${v.iv}.${v.ct}`;
  const index = (h: Record<string, SealedValue>) =>
    new Map(Object.entries(h).map(([k, v]) => [k.toLowerCase(), { k, id: sealedId(v) }]));
  const before = index(a.headers);
  const after = index(b.headers);
  const out: string[] = [];
  for (const [lower, { k, id }] of after) {
    const old = before.get(lower);
    if (!old || old.id !== id || old.k !== k) out.push(`headers.${k}`);
  }
  for (const [lower, { k }] of before) if (!after.has(lower)) out.push(`headers.${k}`);
  return out.sort();
}

/** What a save does to the flow's webhook steps, in step order (added and changed, then removed). */
export function webhookChanges(before: readonly Step[], after: readonly Step[]): WebhookChange[] {
  const a = hooks(before);
  const b = hooks(after);
  const out: WebhookChange[] = [];
  for (const [id, step] of b) {
    const old = a.get(id);
    if (!old) {
      out.push({ action: 'webhook.added', stepId: id, fields: [] });
      continue;
    }
    const fields: string[] = [];
    if (old.url !== step.url) fields.push('url');
    if (old.body !== step.body) fields.push('body');
    if ((old.name ?? null) !== (step.name ?? null)) fields.push('name');
    if (JSON.stringify(old.retry ?? null) !== JSON.stringify(step.retry ?? null)) fields.push('retry');
    if (JSON.stringify(old.limits ?? null) !== JSON.stringify(step.limits ?? null)) fields.push('limits');
    fields.push(...headerChanges(old, step));
    if (!old.signing !== !step.signing) fields.push('signing');
    else if (old.signing && step.signing && old.signing.secret.ct !== step.signing.secret.ct) {
      fields.push('signing.secret');
    }
    if (fields.length) out.push({ action: 'webhook.changed', stepId: id, fields });
  }
  for (const id of a.keys()) {
    if (!b.has(id)) out.push({ action: 'webhook.removed', stepId: id, fields: [] });
  }
  return out;
}

/** The fields of a change that only callers with `webhooks:change` may make. */
export function gatedFields(c: WebhookChange): string[] {
  return c.fields.filter(
    (f) => f === 'url' || f === 'body' || f.startsWith('headers.') || f.startsWith('signing'),
  );
}

/**
 * Changes that need the `webhooks:change` permission (see `src/permissions.ts`): adding or
 * removing a webhook step, or changing its URL, headers, body or signing. Renaming a step or tuning its
 * retries is not.
 */
export function needsWebhookPermission(c: WebhookChange): boolean {
  return c.action !== 'webhook.changed' || gatedFields(c).length > 0;
}
