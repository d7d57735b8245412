import type { CookieOptions, Request } from 'express';
import { SESSION_TTL_MS } from '../auth/sessions';

/**
 * The session cookie's attributes. `HttpOnly`: page scripts never read it. `SameSite=Lax`: other
 * sites' requests that change data (POST, fetch) go without it, while following a link to a page
 * from elsewhere still finds the user signed in. `Secure` when the request came over HTTPS: directly,
 * or through a proxy trusted by `HOOKFLOW_TRUST_PROXY` that says so in `X-Forwarded-Proto` (an
 * untrusted proxy's header is ignored), so the browser never sends the cookie over plain HTTP.
 */
export function sessionCookieOptions(req: Request): CookieOptions {
  return { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/', maxAge: SESSION_TTL_MS };
}
