import { ApiError, api } from '../lib/http';

/** The first-owner form of the one-time setup link (the token is the link's `?token=`). */
const form = document.getElementById('setup') as HTMLFormElement | null;
if (form) {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    api('POST', '/api/setup', { token, email: value('email'), password: value('password') })
      .then(() => location.assign('/account/two-step?next=%2Fwebhooks'))
      .catch((e: unknown) => {
        document.getElementById('error')!.textContent = e instanceof ApiError ? e.describe() : String(e);
      });
  });
}
