import type { Db } from '../db';
import { ApiKeyStore } from '../db/api-key-store';
import { SessionStore } from '../db/session-store';
import { SetupTokenStore } from '../db/setup-token-store';
import { UserStore } from '../db/user-store';
import type { SecretBox } from '../secrets';
import type { ApiKeyCacheOptions } from './api-keys';
import { ApiKeyService, apiKeyId } from './api-keys';
import { FirstOwnerSetup } from './first-owner';
import { Lockout } from './lockout';
import type { Principal } from '../permissions';
import { SessionService } from './sessions';
import { TwoStepService } from './two-step';
import { UserService } from './users';

/** Accounts, one service per concern; they share one lockout, so every guess counts once for all. */
export interface Accounts {
  users: UserService;
  sessions: SessionService;
  twoStep: TwoStepService;
  apiKeys: ApiKeyService;
  firstOwner: FirstOwnerSetup;
  /** Resolves a bearer token or session cookie value; undefined when unknown, expired or revoked. */
  authenticate(token: string): Promise<Principal | undefined>;
}

export function createAccounts(db: Db, secrets: SecretBox, keyCache: ApiKeyCacheOptions = {}): Accounts {
  const userStore = new UserStore(db);
  const lockout = new Lockout();
  const apiKeys = new ApiKeyService(new ApiKeyStore(db), keyCache);
  const accessChanged = (userId: string) => apiKeys.forgetUser(userId);
  const users = new UserService(userStore, lockout, accessChanged);
  const twoStep = new TwoStepService(userStore, users, lockout, secrets, accessChanged);
  const sessions = new SessionService(new SessionStore(db), userStore, twoStep, lockout);
  return {
    users,
    sessions,
    twoStep,
    apiKeys,
    firstOwner: new FirstOwnerSetup(users, sessions, lockout, new SetupTokenStore(db)),
    authenticate: (token) => (apiKeyId(token) ? apiKeys.principalOf(token) : sessions.principalOf(token)),
  };
}
