import type { SealedValue, SecretBox } from '../secrets';
import type { TemplateContext, TemplateRenderer } from '../templates';
import type { AttemptOutcome } from './classify';
import { checkWebhookUrl } from './rules';

/**
 * What a request is made from: a webhook step's URL, sealed headers and body template (a flow's
 * `WebhookStep` fits; webhooks sit below flows, so the step type is not imported).
 */
export interface WebhookRequestSource {
  url: string;
  headers: Readonly<Record<string, SealedValue>>;
  body: string;
  /** Standard Webhooks signing: the current secret and, during a rotation's grace period, the one before. */
  signing?: { secret: SealedValue; previous?: { secret: SealedValue; until: string } };
}

/** A request ready to send: the URL re-checked, the body rendered and valid JSON, headers decrypted. */
export interface PreparedRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Decrypted `whsec_…` secrets to sign with, current first; absent when the step does not sign. */
  signingSecrets?: string[];
}

/**
 * Everything before the network, shared by the activity and by test sends: every rule the
 * activity enforces is enforced here, so a test send is judged exactly like a delivery.
 * Returns a non-retryable outcome when the request can never be sent.
 */
export async function prepareRequest(
  step: WebhookRequestSource,
  context: TemplateContext,
  deps: { secrets: SecretBox; renderer: TemplateRenderer },
  cacheKey?: string,
): Promise<PreparedRequest | AttemptOutcome> {
  const urlProblem = checkWebhookUrl(step.url);
  if (urlProblem) {
    return { class: 'non_retryable', reason: `the URL ${urlProblem.message}`, errorClass: 'invalid_url' };
  }
  const rendered = await deps.renderer.render(step.body, context, cacheKey);
  if (!rendered.ok) {
    const e = rendered.error;
    const where =
      e.line !== undefined && !/ at line \d+/.test(e.message)
        ? ` (line ${e.line}, column ${e.column ?? 0})`
        : '';
    return { class: 'non_retryable', reason: `${e.message}${where}`, errorClass: 'template' };
  }
  const headers: Record<string, string> = {};
  for (const [name, sealed] of Object.entries(step.headers)) {
    try {
      headers[name] = deps.secrets.open(sealed);
    } catch {
      return {
        class: 'non_retryable',
        reason: `header ${name} cannot be decrypted with the configured keys (key id "${sealed.kid}")`,
        errorClass: 'secret_unavailable',
      };
    }
  }
  const prepared: PreparedRequest = { url: step.url, headers, body: rendered.body };
  if (step.signing) {
    const { secret, previous } = step.signing;
    const sealed = [secret];
    // The old secret signs too until its grace period ends, judged at each attempt.
    if (previous && Date.parse(previous.until) > Date.now()) sealed.push(previous.secret);
    try {
      prepared.signingSecrets = sealed.map((s) => deps.secrets.open(s));
    } catch {
      return {
        class: 'non_retryable',
        reason: `the signing secret cannot be decrypted with the configured keys (key id "${secret.kid}")`,
        errorClass: 'secret_unavailable',
      };
    }
  }
  return prepared;
}

export function isOutcome(p: PreparedRequest | AttemptOutcome): p is AttemptOutcome {
  return 'class' in p;
}
