import type { Scope } from './api-keys';
import type { Role } from './roles';
import { WEBHOOK_ROLES, webhookPermission } from './roles';
import type { Principal } from './service';

/** Why a request is refused: the HTTP status, a stable code and a message that says what to do. */
export interface Refusal {
  status: 401 | 403;
  code: 'unauthenticated' | 'scope_missing' | 'role_forbidden' | 'two_step_required' | 'session_required';
  message: string;
}

/** Roles that may change flows and post events; analysts and support read. */
export const WRITER_ROLES: readonly Role[] = WEBHOOK_ROLES;
const WRITES: ReadonlySet<Scope> = new Set<Scope>(['flows:write', 'events:write']);

/**
 * The rule for one kind of access. Sessions act with their user's role; an API key needs the scope
 * *and* its user's current role (loaded at every use), so demoting a user limits their keys at once.
 */
export function accessRefusal(p: Principal | undefined, need: Scope): Refusal | undefined {
  if (!p) {
    return {
      status: 401,
      code: 'unauthenticated',
      message: 'sign in (POST /api/auth/sign-in) or send an API key as a Bearer token',
    };
  }
  if (p.kind === 'api_key' && !p.scopes.includes(need)) {
    return {
      status: 403,
      code: 'scope_missing',
      message: `this API key does not have the scope ${need}; create a key with it`,
    };
  }
  if (WRITES.has(need) && !WRITER_ROLES.includes(p.user.role)) {
    return {
      status: 403,
      code: 'role_forbidden',
      message: `${need === 'events:write' ? 'events' : 'flows'} can be changed by managers, admins and owners; your role is ${p.user.role}`,
    };
  }
  return undefined;
}

/** Webhook actions (add or change a webhook, resend, test send): write access plus the webhook rule. */
export function webhookRefusal(p: Principal | undefined): Refusal | undefined {
  const refused = accessRefusal(p, 'flows:write');
  if (refused) return refused;
  const rule = webhookPermission(p!.user);
  return rule.ok ? undefined : { status: 403, code: rule.code, message: rule.message };
}
