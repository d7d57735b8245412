import type { DomainError } from './errors';
import { ForbiddenError, UnauthenticatedError } from './errors';

/** The roles, strongest first. Analysts and support read; managers and above change things. */
export const ROLES = ['owner', 'admin', 'manager', 'analyst', 'support'] as const;
export type Role = (typeof ROLES)[number];

/** What an API key may be given; each action below names the scope a key needs for it. */
export const SCOPES = [
  'events:write',
  'flows:read',
  'flows:write',
  'analytics:read',
  'profiles:read',
  'profiles:write',
] as const;
export type Scope = (typeof SCOPES)[number];

/** A signed-in user as the rules see them (the rest of the account lives in `users.ts`). */
export interface User {
  id: string;
  email: string;
  role: Role;
  twoStepEnabled: boolean;
  createdAt: string;
  disabledAt: string | null;
}

/** Who is calling: a signed-in user (session) or an API key acting for its user. */
export type Principal =
  | { kind: 'session'; user: User; csrf: string }
  | { kind: 'api_key'; user: User; keyId: string; scopes: Scope[] };

/** One row of the permission table. */
export interface Permission {
  /** What the action covers, as the README's table says it. */
  readonly what: string;
  readonly roles: readonly Role[];
  /** The scope an API key needs; `'session'`: keys are refused, a person must sign in; `'any'`: any key. */
  readonly key: Scope | 'session' | 'any';
  /** Two-step authentication must be on for the user. */
  readonly twoStep: boolean;
  /** Who may, said to a caller whose role may not (followed by "; your role is …"). */
  readonly deniedRole?: string;
}

const EVERY_ROLE = ROLES;
const WRITERS = ['owner', 'admin', 'manager'] as const satisfies readonly Role[];
const FLOW_WRITERS = 'flows can be changed by managers, admins and owners';

/**
 * Who may do what: the one table. Routes name an action (`requires('flows:write')`), and the flow
 * service reads `webhooks:change` for saves that touch webhook steps. A key acts with its user's
 * role at every use, so demoting a user limits their keys at once.
 */
export const PERMISSIONS = {
  'flows:read': {
    what: 'read flows, their variables, previews',
    roles: EVERY_ROLE,
    key: 'flows:read',
    twoStep: false,
  },
  'flows:write': {
    what: 'create, change or delete flows (renaming a webhook step and tuning its retries included)',
    roles: WRITERS,
    key: 'flows:write',
    twoStep: false,
    deniedRole: FLOW_WRITERS,
  },
  'webhooks:change': {
    what: 'add or remove a webhook step, change its URL, headers or body (also by deleting its flow)',
    roles: WRITERS,
    key: 'flows:write',
    twoStep: true,
    deniedRole: FLOW_WRITERS,
  },
  'webhooks:test': {
    what: 'test-send a webhook step',
    roles: WRITERS,
    key: 'flows:write',
    twoStep: true,
    deniedRole: FLOW_WRITERS,
  },
  'deliveries:resend': {
    what: 'resend deliveries, one or in bulk',
    roles: WRITERS,
    key: 'flows:write',
    twoStep: true,
    deniedRole: FLOW_WRITERS,
  },
  'events:write': {
    what: 'post events',
    roles: WRITERS,
    key: 'events:write',
    twoStep: false,
    deniedRole: 'events can be changed by managers, admins and owners',
  },
  'profiles:read': {
    what: 'read profiles, lists and list members',
    roles: EVERY_ROLE,
    key: 'profiles:read',
    twoStep: false,
  },
  'profiles:write': {
    what: 'create, change or delete profiles and lists; add, confirm or remove list members',
    roles: WRITERS,
    key: 'profiles:write',
    twoStep: false,
    deniedRole: 'profiles and lists can be changed by managers, admins and owners',
  },
  'segments:read': {
    what: 'read segments, their members and recompute progress',
    roles: EVERY_ROLE,
    key: 'profiles:read',
    twoStep: false,
  },
  'segments:write': {
    what: 'create, change or delete segments',
    roles: WRITERS,
    key: 'profiles:write',
    twoStep: false,
    deniedRole: 'segments can be changed by managers, admins and owners',
  },
  'catalog:read': {
    what: 'read catalog items, their price history and price-drop progress',
    roles: EVERY_ROLE,
    key: 'profiles:read',
    twoStep: false,
  },
  'catalog:write': {
    what: 'create, change or delete catalog items (a lower price starts price-drop flows)',
    roles: WRITERS,
    key: 'profiles:write',
    twoStep: false,
    deniedRole: 'the catalog can be changed by managers, admins and owners',
  },
  'analytics:read': {
    what: 'read runs, webhook analytics and deliveries; the pages',
    roles: EVERY_ROLE,
    key: 'analytics:read',
    twoStep: false,
  },
  'audit:read': {
    what: 'read the audit log',
    roles: ['owner', 'admin'],
    key: 'flows:read',
    twoStep: false,
    deniedRole: 'the audit log is for admins and owners',
  },
  'users:list': {
    what: 'list users',
    roles: ['owner', 'admin'],
    key: 'session',
    twoStep: false,
    deniedRole: 'only owners and admins list users',
  },
  'users:manage': {
    what: 'add users, change their role, remove them',
    roles: ['owner'],
    key: 'session',
    twoStep: false,
    deniedRole: 'only owners manage users and roles',
  },
  'keys:manage': {
    what: 'create, list and revoke their own API keys',
    roles: EVERY_ROLE,
    key: 'session',
    twoStep: false,
  },
  'account:manage': {
    what: 'change their password, turn two-step authentication on or off',
    roles: EVERY_ROLE,
    key: 'session',
    twoStep: false,
  },
  'account:read': {
    what: 'see who they are signed in as',
    roles: EVERY_ROLE,
    key: 'any',
    twoStep: false,
  },
} as const satisfies Record<string, Permission>;

export type Action = keyof typeof PERMISSIONS;
/** The actions API keys may not do: a person signs in for them. */
export type SessionAction = {
  [A in Action]: (typeof PERMISSIONS)[A]['key'] extends 'session' ? A : never;
}[Action];
export const ACTIONS = Object.keys(PERMISSIONS) as Action[];

/** Where a user who must set up two-step authentication is sent (the page; the API is named in the message). */
export const TWO_STEP_SETUP_URL = '/account/two-step';

export const unauthenticated = (): UnauthenticatedError =>
  new UnauthenticatedError(
    'unauthenticated',
    'sign in (POST /api/auth/sign-in) or send an API key as a Bearer token',
  );

/**
 * Why `p` may not do `action`, or undefined when they may. Checked in this order: signed in, the
 * key's scope (or a session where keys are refused), the user's current role, two-step on.
 */
export function permissionError(p: Principal | undefined, action: Action): DomainError | undefined {
  const rule: Permission = PERMISSIONS[action];
  if (!p) return unauthenticated();
  if (p.kind === 'api_key') {
    if (rule.key === 'session')
      return new ForbiddenError('session_required', 'API keys cannot manage accounts or keys; sign in');
    if (rule.key !== 'any' && !p.scopes.includes(rule.key))
      return new ForbiddenError(
        'scope_missing',
        `this API key does not have the scope ${rule.key}; create a key with it`,
      );
  }
  if (!rule.roles.includes(p.user.role))
    return new ForbiddenError(
      'role_forbidden',
      `${rule.deniedRole ?? 'not for your role'}; your role is ${p.user.role}`,
    );
  if (rule.twoStep && !p.user.twoStepEnabled)
    return new ForbiddenError(
      'two_step_required',
      'set up two-step authentication first: POST /api/auth/two-step/setup, then confirm a code (or the Two-step page)',
      { setupUrl: TWO_STEP_SETUP_URL },
    );
  return undefined;
}
