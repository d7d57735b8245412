import crypto from 'node:crypto';
import type { ApiKeyStore } from '../db/api-key-store';
import { NotFoundError } from '../errors';
import type { Principal, Scope, User } from '../permissions';
import { toUser } from './users';

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

/** Last use to the minute: a key posting events many times a second writes once a minute. */
const LAST_USED_PRECISION_MS = 60_000;

/** API keys of users: created, listed and revoked by their user; resolved to a principal at each use. */
export class ApiKeyService {
  constructor(private readonly keys: ApiKeyStore) {}

  async create(user: User, name: string, scopes: Scope[]) {
    const k = createApiKey();
    const now = new Date().toISOString();
    await this.keys.insert({
      id: k.id,
      user_id: user.id,
      name,
      key_hash: k.hash,
      scopes: JSON.stringify(scopes),
      created_at: now,
      last_used_at: null,
      revoked_at: null,
    });
    return { id: k.id, key: k.key, name, scopes, createdAt: now };
  }

  async list(user: User) {
    const rows = await this.keys.listFor(user.id);
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      scopes: JSON.parse(r.scopes) as Scope[],
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      revokedAt: r.revoked_at,
    }));
  }

  async revoke(user: User, id: string): Promise<void> {
    if (!(await this.keys.revoke(id, user.id))) throw new NotFoundError(`API key ${id}`);
  }

  /** The key's principal, acting with its user's current role; undefined when unknown, revoked or the user removed. */
  async principalOf(key: string): Promise<Principal | undefined> {
    const keyId = apiKeyId(key);
    if (!keyId) return undefined;
    const row = await this.keys.withUser(keyId);
    if (!row || row.revoked_at || row.disabled_at || !apiKeyMatches(key, row.key_hash)) return undefined;
    const now = new Date();
    if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) >= LAST_USED_PRECISION_MS)
      await this.keys.setLastUsed(keyId, now.toISOString());
    return { kind: 'api_key', user: toUser(row), keyId, scopes: JSON.parse(row.scopes) as Scope[] };
  }
}
