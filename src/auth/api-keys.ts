import crypto from 'node:crypto';
import type { ApiKeyStore } from '../db/api-key-store';
import { NotFoundError } from '../errors';
import { Lru } from '../lru';
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

/** Keys remembered at most; more distinct keys in use than this only means more lookups. */
const CACHED_KEYS = 1000;

export interface ApiKeyCacheOptions {
  /**
   * How long a verified key's principal is reused without reading the database, in ms (0: read at
   * every request). This process forgets a key at once when it is revoked here or its user's role
   * or access changes here; another API process sharing the database sees it within this bound.
   * @default 0
   */
  cacheMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/** API keys of users: created, listed and revoked by their user; resolved to a principal at each use. */
export class ApiKeyService {
  private readonly cacheMs: number;
  private readonly now: () => number;
  /** Keyed by the SHA-256 of the whole key: a hit means this exact key was verified against its row. */
  private readonly verified = new Lru<string, { principal: Principal; until: number }>(CACHED_KEYS);

  constructor(
    private readonly keys: ApiKeyStore,
    opts: ApiKeyCacheOptions = {},
  ) {
    this.cacheMs = opts.cacheMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

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
    const revoked = await this.keys.revoke(id, user.id);
    this.forget((p) => p.kind === 'api_key' && p.keyId === id);
    if (!revoked) throw new NotFoundError(`API key ${id}`);
  }

  /** Forgets every remembered principal of this user (their role, two-step or access changed). */
  forgetUser(userId: string): void {
    this.forget((p) => p.user.id === userId);
  }

  /** The key's principal, acting with its user's current role; undefined when unknown, revoked or the user removed. */
  async principalOf(key: string): Promise<Principal | undefined> {
    const keyId = apiKeyId(key);
    if (!keyId) return undefined;
    const hash = this.cacheMs > 0 ? hashApiKey(key) : '';
    if (this.cacheMs > 0) {
      const hit = this.verified.get(hash);
      if (hit && hit.until > this.now()) return hit.principal;
    }
    const row = await this.keys.withUser(keyId);
    if (!row || row.revoked_at || row.disabled_at || !apiKeyMatches(key, row.key_hash)) return undefined;
    const now = new Date();
    if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) >= LAST_USED_PRECISION_MS)
      await this.keys.setLastUsed(keyId, now.toISOString());
    const principal: Principal = {
      kind: 'api_key',
      user: toUser(row),
      keyId,
      scopes: JSON.parse(row.scopes) as Scope[],
    };
    if (this.cacheMs > 0) this.verified.set(hash, { principal, until: this.now() + this.cacheMs });
    return principal;
  }

  private forget(matches: (p: Principal) => boolean): void {
    for (const [hash, { principal }] of this.verified.entries())
      if (matches(principal)) this.verified.delete(hash);
  }
}
