import type { Db } from './index';

/** First-owner setup links, by the hash of their token, shared by every API process. */
export class SetupTokenStore {
  constructor(private readonly db: Db) {}

  async add(tokenHash: string, now: string): Promise<void> {
    await this.db.insertInto('setup_tokens').values({ token_hash: tokenHash, created_at: now }).execute();
  }

  async any(): Promise<boolean> {
    return (
      (await this.db.selectFrom('setup_tokens').select('token_hash').limit(1).executeTakeFirst()) !==
      undefined
    );
  }

  async has(tokenHash: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('setup_tokens')
      .select('token_hash')
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Uses a token: true for exactly one caller, however many processes try at once. */
  async take(tokenHash: string): Promise<boolean> {
    const r = await this.db.deleteFrom('setup_tokens').where('token_hash', '=', tokenHash).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  /** Once an owner exists, every other link printed is void. */
  async clear(): Promise<void> {
    await this.db.deleteFrom('setup_tokens').execute();
  }
}
