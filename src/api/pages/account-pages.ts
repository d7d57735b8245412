import { Router } from 'express';
import type { Accounts } from '../../auth/accounts';
import { currentPrincipal } from '../auth';
import type { Render } from './views';
import { safeNext, signedInPage } from './views';

/** Sign-in (with the code step), the first-owner setup link, and two-step setup. */
export function accountPages(deps: { accounts: Accounts; render: Render }): Router {
  const r = Router();
  const { render } = deps;

  r.get('/', (_req, res) => res.redirect(303, '/webhooks'));

  r.get('/sign-in', async (req, res) => {
    const next = safeNext(req.query.next);
    if (currentPrincipal(res)) return res.redirect(303, next);
    if (await deps.accounts.firstOwner.pending()) {
      // No user can sign in before the first owner exists; say where the link is.
      return render(res, 'message.njk', {
        title: 'Set up hookflow',
        heading: 'No user exists yet',
        message:
          'Open the one-time setup link printed on the console when the API started, or set HOOKFLOW_OWNER_EMAIL and HOOKFLOW_OWNER_PASSWORD and restart.',
      });
    }
    render(res, 'sign-in.njk', { title: 'Sign in', next });
  });

  r.get('/setup', async (_req, res) => {
    if (!(await deps.accounts.firstOwner.pending())) return res.redirect(303, '/sign-in');
    render(res, 'setup.njk', { title: 'Create the first owner' });
  });

  r.get('/account/two-step', signedInPage, (req, res) => {
    render(res, 'two-step.njk', { title: 'Two-step authentication', next: safeNext(req.query.next) });
  });

  return r;
}
