import crypto from 'node:crypto';

/** The prefix of a Standard Webhooks secret; the rest is the key in base64. */
export const SECRET_PREFIX = 'whsec_';
/** Random bytes in a generated key (the specification asks for 24 to 64). */
const KEY_BYTES = 32;

/** A new signing secret, `whsec_<base64 of 32 random bytes>`. */
export function generateSigningSecret(): string {
  return `${SECRET_PREFIX}${crypto.randomBytes(KEY_BYTES).toString('base64')}`;
}

/** The HMAC key of a `whsec_…` secret: the base64 after the prefix, decoded. */
function keyOf(secret: string): Buffer {
  const raw = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(raw, 'base64');
}

/** One `v1,<base64 HMAC-SHA256>` signature of `id.timestamp.body`, per the Standard Webhooks specification. */
export function signatureOf(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = crypto.createHmac('sha256', keyOf(secret)).update(`${id}.${timestampSeconds}.${body}`);
  return `v1,${mac.digest('base64')}`;
}

/**
 * The three Standard Webhooks headers of one attempt. Each secret signs (the current one first,
 * then one kept through a rotation's grace period), space-separated as the specification allows.
 */
export function signingHeaders(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => signatureOf(s, id, timestampSeconds, body)).join(' '),
  };
}
