import type { Scope } from './api-keys';
import type { Role } from './roles';
import { WRITER_ROLES } from './roles';
import type { Principal } from './service';

/** Why a request is refused: the HTTP status, a stable code and a message that says what to do. */
export interface Refusal {
  status: 401 | 403;
  code: 'unauthenticated' | 'scope_missing' | 'role_forbidden' | 'two_step_required' | 'session_required';
  message: string;
}

export const UNAUTHENTICATED: Refusal = {
  status: 401,
  code: 'unauthenticated',
  message: 'sign in (POST /api/auth/sign-in) or send an API key as a Bearer token',
};

const WRITES: ReadonlySet<Scope> = new Set<Scope>(['flows:write', 'events:write']);

/**
 * The rule for one kind of access. Sessions act with their user's role; an API key needs the scope
 * *and* its user's current role (loaded at every use), so demoting a user limits their keys at once.
 */
export function accessRefusal(p: Principal | undefined, need: Scope): Refusal | undefined {
  if (!p) return UNAUTHENTICATED;
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

/** Webhook actions (add or change a webhook, resend, test send): write access plus two-step authentication. */
export function webhookRefusal(p: Principal | undefined): Refusal | undefined {
  const refused = accessRefusal(p, 'flows:write');
  if (refused || p!.user.twoStepEnabled) return refused;
  return {
    status: 403,
    code: 'two_step_required',
    message:
      'set up two-step authentication first: POST /api/auth/two-step/setup, then confirm a code (or the Two-step page)',
  };
}

/** Actions for some roles only (user management, the audit log); `what` says who may. */
export function roleRefusal(p: Principal, roles: readonly Role[], what: string): Refusal | undefined {
  if (roles.includes(p.user.role)) return undefined;
  return { status: 403, code: 'role_forbidden', message: `${what}; your role is ${p.user.role}` };
}
