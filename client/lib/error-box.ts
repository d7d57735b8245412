import { ApiError } from './http';
import { h } from './dom';

/**
 * Shows a failed request in `target`: the API's message with each detail, or, for
 * `two_step_required`, why and the link to set two-step authentication up (coming back here).
 */
export function showError(target: HTMLElement, prefix: string, err: unknown): void {
  target.replaceChildren();
  if (err instanceof ApiError && err.code === 'two_step_required') {
    const back = `${location.pathname}${location.search}`;
    const url = `${err.setupUrl ?? '/account/two-step'}?next=${encodeURIComponent(back)}`;
    target.append(
      h(
        'div',
        { class: 'reminder', role: 'alert', 'data-testid': 'two-step-reminder' },
        'Webhooks need two-step authentication. ',
        h('a', { href: url }, 'Set up two-step authentication'),
        ', then try again.',
      ),
    );
    return;
  }
  const message = err instanceof ApiError ? err.describe() : err instanceof Error ? err.message : String(err);
  target.append(`${prefix}${message}`);
}
