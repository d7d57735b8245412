import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import nunjucks from 'nunjucks';
import { currentPrincipal } from '../auth';
import { permissionError } from '../../permissions';

/** Views sit at the repository root, three levels up from both src/api/pages and dist/api/pages. */
const VIEWS = path.join(__dirname, '..', '..', '..', 'views');

/** The pages' bundled scripts (src/scripts/bundle-client.ts writes them at build time), under `/assets/`. */
export const PUBLIC_DIR = path.join(__dirname, '..', '..', '..', 'dist', 'public');

export type Render = (res: Response, view: string, ctx: object) => void;

/**
 * The pages' nunjucks environment (HTML escaping on). Every page gets `viewer`: the signed-in
 * user and the session's CSRF token, which the page's scripts send on requests that change data.
 * `viewsDir` is for code built elsewhere than dist/ (the benchmarks).
 */
export function createViews(viewsDir = VIEWS): Render {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  return (res, view, ctx) => {
    const p = currentPrincipal(res);
    const viewer = p && {
      email: p.user.email,
      role: p.user.role,
      twoStepEnabled: p.user.twoStepEnabled,
      csrf: p.kind === 'session' ? p.csrf : '',
    };
    res.type('html').send(env.render(view, { ...ctx, viewer }));
  };
}

/** Where to go after signing in: a path on this site only (never `//host` or a full URL). */
export function safeNext(value: unknown, fallback = '/webhooks'): string {
  return typeof value === 'string' && /^\/(?![/\\])[\w\-./?=&%~+]*$/.test(value) ? value : fallback;
}

/** Pages need a signed-in user; anyone else is sent to the sign-in page and brought back after. */
export function signedInPage(req: Request, res: Response, next: NextFunction): void {
  const refused = permissionError(currentPrincipal(res), 'analytics:read');
  if (refused?.kind === 'unauthenticated') {
    return res.redirect(303, `/sign-in?next=${encodeURIComponent(safeNext(req.originalUrl))}`);
  }
  next(refused);
}

/** `?a=1&b=2` of the values that are set (empty when none). */
export function queryString(values: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}
