/**
 * Rules every webhook destination and header obeys, checked at save and again at send time
 * (the stored step may predate a rule, and the activity never trusts it).
 */

export interface RuleViolation {
  rule: string;
  message: string;
}

/** Static URL rules: absolute, https (any case), a host, no credentials, no fragment. */
export function checkWebhookUrl(raw: string): RuleViolation | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { rule: 'absolute_url', message: 'must be a valid absolute URL, e.g. https://example.com/hooks' };
  }
  if (url.protocol !== 'https:') {
    return { rule: 'https_only', message: `must use https (got ${url.protocol.replace(/:$/, '')})` };
  }
  if (url.hostname === '') return { rule: 'host_required', message: 'must name a host' };
  if (url.username !== '' || url.password !== '') {
    return {
      rule: 'no_credentials',
      message: 'must not contain a user name or password; send credentials in a header instead',
    };
  }
  if (url.hash !== '' || raw.includes('#')) {
    return {
      rule: 'no_fragment',
      message: 'must not contain a fragment (#...): it is never sent to the server',
    };
  }
  return undefined;
}

/** Header names hookflow sets itself on every request. */
export const RESERVED_HEADERS = [
  'content-type',
  'content-length',
  'host',
  'idempotency-key',
  'user-agent',
  'transfer-encoding',
  'connection',
  // Standard Webhooks signing (signing.ts): a user value would make the signature unverifiable.
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
] as const;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible ASCII, space and tab, and Latin-1 letters; not DEL nor the C1 controls (0x7F-0x9F), which
// some servers and proxies treat as line breaks or drop.
const FIELD_VALUE = /^[\t\x20-\x7E\xA0-\xFF]*$/;
export const MAX_HEADER_VALUE_LENGTH = 8192;
export const MAX_HEADERS = 50;

export function checkHeaderName(name: string): RuleViolation | undefined {
  if (!TOKEN.test(name)) {
    return {
      rule: 'header_name',
      message: `"${name}" is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_\`|~)`,
    };
  }
  if ((RESERVED_HEADERS as readonly string[]).includes(name.toLowerCase())) {
    return {
      rule: 'reserved_header',
      message: `"${name}" is set by hookflow on every request and cannot be overridden`,
    };
  }
  return undefined;
}

/** Never echoes the value: it is a secret. */
export function checkHeaderValue(value: string): RuleViolation | undefined {
  if (value.length > MAX_HEADER_VALUE_LENGTH) {
    return { rule: 'header_value', message: `must be at most ${MAX_HEADER_VALUE_LENGTH} characters` };
  }
  if (!FIELD_VALUE.test(value)) {
    return {
      rule: 'header_value',
      message:
        'is not a valid HTTP header value (no line breaks, control or invisible characters, nor characters beyond Latin-1)',
    };
  }
  if (value !== value.trim())
    return { rule: 'header_value', message: 'must not start or end with whitespace' };
  return undefined;
}
