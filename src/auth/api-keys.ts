import crypto from 'node:crypto';

/**
 * API keys: `hfk_<id>_<secret>`. The id (public) finds the row; only a SHA-256 of the whole key
 * is stored, compared in constant time. The key is shown once, at creation.
 */
export interface NewApiKey {
  id: string;
  key: string;
  hash: string;
}

export function createApiKey(): NewApiKey {
  const id = crypto.randomBytes(6).toString('hex');
  const key = `hfk_${id}_${crypto.randomBytes(24).toString('base64url')}`;
  return { id, key, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

/** The id part of a well-formed key, or undefined. */
export function apiKeyId(key: string): string | undefined {
  return /^hfk_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$/.exec(key)?.[1];
}

export function apiKeyMatches(key: string, storedHash: string): boolean {
  const a = Buffer.from(hashApiKey(key), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
