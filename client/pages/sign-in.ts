import { ApiError, api } from '../lib/http';

/** The sign-in form: email and password, then the code step when the account has two-step authentication. */
const form = document.getElementById('sign-in') as HTMLFormElement | null;
if (form) {
  const codeStep = document.getElementById('code-step')!;
  const error = document.getElementById('error')!;
  const input = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const body: Record<string, string> = { email: input('email').value, password: input('password').value };
    const code = input('code').value.trim();
    if (!codeStep.hidden && code) body.code = code;
    api('POST', '/api/auth/sign-in', body)
      .then(() => location.assign(form.dataset.next ?? '/webhooks'))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.code === 'two_step_code_required') {
          codeStep.hidden = false;
          input('code').focus();
          error.textContent = 'Enter the code from your authenticator app.';
          return;
        }
        error.textContent = e instanceof ApiError ? e.describe() : String(e);
        if (e instanceof ApiError && e.code === 'invalid_code') {
          input('code').value = '';
          input('code').focus();
        }
      });
  });
}
