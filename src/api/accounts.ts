import type { Request, Response } from 'express';
import { Router } from 'express';
import { z } from 'zod';
import { ROLES, SCOPES } from '../permissions';
import type { Accounts } from '../auth/accounts';
import type { StartedSession } from '../auth/sessions';
import { sessionCookieOptions } from './session-cookie';
import { parseBody } from './validation';
import { principalOf, requires, SESSION_COOKIE, sessionFor, tokenOf } from './auth';

export const signInSchema = z.strictObject({
  email: z.string().min(1).max(320),
  password: z.string().min(1).max(256),
  code: z.string().max(32).optional(),
});
export const setupSchema = z.strictObject({
  token: z.string().min(1).max(200),
  email: z.email({ error: 'must be an email address' }),
  password: z.string().max(256),
});
export const passwordSchema = z.strictObject({
  currentPassword: z.string().min(1).max(256),
  newPassword: z.string().max(256),
});
export const reauthSchema = z.strictObject({ password: z.string().min(1).max(256) });
export const codeSchema = z.strictObject({ code: z.string().min(1).max(32) });
export const newUserSchema = z.strictObject({
  email: z.email({ error: 'must be an email address' }),
  password: z.string().max(256),
  role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }),
});
export const roleSchema = z.strictObject({
  role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }),
});
export const keySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(z.enum(SCOPES, { error: `each scope must be one of ${SCOPES.join(', ')}` })).min(1),
});

/** Sign-in, two-step authentication, users (owners) and API keys. */
export function accountsRouter(accounts: Accounts): Router {
  const r = Router();

  /**
   * Every sign-in gets a new session id (never one the browser already had, against session
   * fixation), and the session the request carried, if any, ends.
   */
  const startSession = async (req: Request, res: Response, out: StartedSession) => {
    const previous = tokenOf(req);
    if (previous && previous !== out.token) await accounts.sessions.signOut(previous);
    res.cookie(SESSION_COOKIE, out.token, sessionCookieOptions(req));
  };

  r.post('/auth/sign-in', async (req, res) => {
    const out = await accounts.sessions.signIn(parseBody(signInSchema, req.body), req.ip ?? 'unknown');
    await startSession(req, res, out);
    res.json(out);
  });

  r.post('/setup', async (req, res) => {
    const out = await accounts.firstOwner.complete(parseBody(setupSchema, req.body), req.ip ?? 'unknown');
    await startSession(req, res, out);
    res.status(201).json(out);
  });

  r.post('/auth/sign-out', async (req, res) => {
    const token = tokenOf(req);
    if (token) await accounts.sessions.signOut(token);
    res.clearCookie(SESSION_COOKIE, { ...sessionCookieOptions(req), maxAge: undefined });
    res.status(204).end();
  });

  r.post('/auth/password', async (req, res) => {
    const p = sessionFor(res, 'account:manage');
    const input = parseBody(passwordSchema, req.body);
    await accounts.users.changePassword(p.user, input, tokenOf(req)!, req.ip ?? 'unknown');
    res.status(204).end();
  });

  r.get('/auth/me', requires('account:read'), (_req, res) => {
    const p = principalOf(res);
    // A session's CSRF token, so a page whose session was renewed elsewhere (another tab) can carry on.
    res.json({
      user: p.user,
      via: p.kind,
      ...(p.kind === 'api_key' ? { scopes: p.scopes } : { csrf: p.csrf }),
    });
  });

  r.post('/auth/two-step/setup', async (req, res) => {
    const { password } = parseBody(reauthSchema, req.body);
    res.json(
      await accounts.twoStep.setup(sessionFor(res, 'account:manage').user, password, req.ip ?? 'unknown'),
    );
  });
  r.post('/auth/two-step/confirm', async (req, res) => {
    const { code } = parseBody(codeSchema, req.body);
    const p = sessionFor(res, 'account:manage');
    const { recoveryCodes } = await accounts.twoStep.confirm(p.user, code);
    // The session now counts as two-step: it gets a new id (and CSRF token), the old one ends.
    const out = await accounts.sessions.rotate(tokenOf(req)!, { ...p.user, twoStepEnabled: true });
    res.cookie(SESSION_COOKIE, out.token, sessionCookieOptions(req));
    res.json({ recoveryCodes, ...out });
  });
  r.post('/auth/two-step/disable', async (req, res) => {
    const { code } = parseBody(codeSchema, req.body);
    await accounts.twoStep.disable(sessionFor(res, 'account:manage').user, code, req.ip ?? 'unknown');
    res.status(204).end();
  });

  r.get('/users', requires('users:list'), async (_req, res) => {
    res.json({ users: await accounts.users.list() });
  });
  r.post('/users', requires('users:manage'), async (req, res) => {
    res.status(201).json(await accounts.users.create(parseBody(newUserSchema, req.body)));
  });
  r.patch('/users/:id', requires('users:manage'), async (req, res) => {
    res.json(await accounts.users.setRole(req.params.id, parseBody(roleSchema, req.body).role));
  });
  r.delete('/users/:id', requires('users:manage'), async (req, res) => {
    res.json(await accounts.users.disable(req.params.id, principalOf(res).user.id));
  });

  r.get('/keys', async (_req, res) => {
    res.json({ keys: await accounts.apiKeys.list(sessionFor(res, 'keys:manage').user) });
  });
  r.post('/keys', async (req, res) => {
    const { name, scopes } = parseBody(keySchema, req.body);
    res.status(201).json(await accounts.apiKeys.create(sessionFor(res, 'keys:manage').user, name, scopes));
  });
  r.delete('/keys/:id', async (req, res) => {
    await accounts.apiKeys.revoke(sessionFor(res, 'keys:manage').user, req.params.id);
    res.status(204).end();
  });

  return r;
}
