import crypto from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Action, Principal, SessionAction } from '../permissions';
import { permissionError, unauthenticated } from '../permissions';
import type { Accounts } from '../auth/accounts';
import { HttpError } from '../errors';
import type { Actor } from '../flows/service';
import { statusOf } from './errors';
import { UNSAFE } from './middleware';

export const SESSION_COOKIE = 'hookflow_session';
/** Pages send the session's CSRF token in this header on every request that changes data. */
const CSRF_HEADER = 'x-csrf-token';

function bearerOf(req: Request): string | undefined {
  const auth = req.get('authorization');
  return (auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null)?.[1];
}

/** The session cookie; only session tokens count there (an API key in a cookie would dodge CSRF). */
function cookieOf(req: Request): string | undefined {
  const cookie = req.get('cookie') ?? '';
  const value = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]+)`).exec(cookie)?.[1];
  return value?.startsWith('hfs_') ? value : undefined;
}

/** The bearer token (`Authorization: Bearer …`) or the session cookie. */
export function tokenOf(req: Request): string | undefined {
  return bearerOf(req) ?? cookieOf(req);
}

/** Requests that do not act as the session (they create one), so a stale cookie must not block them. */
const CSRF_EXEMPT = new Set(['/api/auth/sign-in', '/api/setup']);

function sameToken(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

/**
 * Resolves the caller into `res.locals.principal`. A browser sends the session cookie by itself,
 * so a request that changes data with the cookie must also carry the session's CSRF token, which
 * only our pages can read (from their `<meta name="csrf-token">`). Bearer tokens need no CSRF token.
 */
export function resolvePrincipal(accounts: Pick<Accounts, 'authenticate'>): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const bearer = bearerOf(req);
    const token = bearer ?? cookieOf(req);
    if (!token) return next();
    const principal = await accounts.authenticate(token);
    if (
      principal?.kind === 'session' &&
      bearer === undefined &&
      UNSAFE.has(req.method) &&
      !CSRF_EXEMPT.has(req.path)
    ) {
      const sent = req.get(CSRF_HEADER);
      if (!sent || !sameToken(sent, principal.csrf)) {
        return next(
          new HttpError(
            403,
            'csrf_failed',
            `requests that change data with the session cookie must send the page's CSRF token in ${CSRF_HEADER}; reload the page`,
          ),
        );
      }
    }
    res.locals.principal = principal;
    next();
  };
}

export function currentPrincipal(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

export function principalOf(res: Response): Principal {
  const p = currentPrincipal(res);
  if (!p) throw unauthenticated();
  return p;
}

/** How the API answers a caller asking for `action` (undefined: allowed), for code that reports. */
export function accessRefusal(
  p: Principal | undefined,
  action: Action,
): { status: number; code: string; message: string } | undefined {
  const refused = permissionError(p, action);
  return refused && { status: statusOf(refused), code: refused.code, message: refused.message };
}

/** The webhook rule (managers and above, two-step on), as {@link accessRefusal} answers it. */
export const webhookRefusal = (p: Principal | undefined) => accessRefusal(p, 'webhooks:change');

/**
 * A route guard; generic in the route's params so a guard in front of a handler leaves Express's
 * inference of `req.params` from the path intact.
 */
export type Guard = <P>(req: Request<P>, res: Response, next: NextFunction) => void;

/** Route guard: the caller may do `action` (see the permission table in `src/permissions.ts`). */
export function requires(action: Action): Guard {
  return (_req, res, next) => next(permissionError(currentPrincipal(res), action));
}

/** The signed-in person (not a key) allowed to do `action`; throws the refusal otherwise. */
export function sessionFor(res: Response, action: SessionAction): Extract<Principal, { kind: 'session' }> {
  const p = currentPrincipal(res);
  const refused = permissionError(p, action);
  if (refused) throw refused;
  if (p?.kind !== 'session') throw new Error(`${action} is not refused to API keys in the permission table`);
  return p;
}

/** The caller as a flow save sees it (for the webhook rule and the audit log); call after `requires('flows:write')`. */
export function actorOf(res: Response): Actor {
  const p = principalOf(res);
  return { userId: p.user.id, apiKeyId: p.kind === 'api_key' ? p.keyId : null, principal: p };
}
