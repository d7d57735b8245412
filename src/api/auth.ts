import crypto from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Refusal } from '../auth/access';
import { accessRefusal, UNAUTHENTICATED, webhookRefusal } from '../auth/access';
import type { Scope } from '../auth/api-keys';
import type { AccountService, Principal } from '../auth/service';
import { HttpError } from '../errors';
import type { Actor } from '../flows/service';
import { UNSAFE } from './middleware';

export const SESSION_COOKIE = 'hookflow_session';
/** Pages send the session's CSRF token in this header on every request that changes data. */
const CSRF_HEADER = 'x-csrf-token';
/** Where a page sends a user who must set up two-step authentication. */
const TWO_STEP_PAGE = '/account/two-step';

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
export function resolvePrincipal(accounts: AccountService): RequestHandler {
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

export function refusalError(r: Refusal): HttpError {
  return new HttpError(r.status, r.code, r.message, [], {
    extra: r.code === 'two_step_required' ? { setupUrl: TWO_STEP_PAGE } : undefined,
  });
}

export function principalOf(res: Response): Principal {
  const p = currentPrincipal(res);
  if (!p) throw refusalError(UNAUTHENTICATED);
  return p;
}

/**
 * A route guard; generic in the route's params so a guard in front of a handler leaves Express's
 * inference of `req.params` from the path intact.
 */
export type Guard = <P>(req: Request<P>, res: Response, next: NextFunction) => void;

/** Route guard: a signed-in caller, or an API key with `scope`, whose user's role allows it. */
export function requireAccess(scope: Scope): Guard {
  return (_req, res, next) => {
    const refused = accessRefusal(currentPrincipal(res), scope);
    next(refused ? refusalError(refused) : undefined);
  };
}

/** Route guard for resends and test sends: write access, role manager or above, two-step on. */
export const requireWebhookAccess: Guard = (_req, res, next) => {
  const refused = webhookRefusal(currentPrincipal(res));
  next(refused ? refusalError(refused) : undefined);
};

/** The caller as a flow save sees it; call after `requireAccess('flows:write')`. */
export function actorOf(res: Response): Actor {
  const p = principalOf(res);
  const refused = webhookRefusal(p);
  return {
    userId: p.user.id,
    apiKeyId: p.kind === 'api_key' ? p.keyId : null,
    ...(refused ? { webhookRefusal: { code: refused.code, message: refused.message } } : {}),
  };
}
