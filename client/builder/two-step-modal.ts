import { api } from '../lib/http';
import { h } from '../lib/dom';

interface Me {
  user: { twoStepEnabled: boolean };
}

/**
 * The modal shown when a viewer without two-step authentication adds a webhook step or edits one:
 * why it is needed, a link to set it up (the builder keeps the draft for the way back), and
 * Continue, which asks the API again. A real `<dialog>`: focus moves in, Escape closes, focus
 * returns to where it was.
 */
export class TwoStepModal {
  private readonly dialog: HTMLDialogElement;
  private readonly error: HTMLElement;
  private readonly continueButton: HTMLButtonElement;
  private pending: ((ok: boolean) => void)[] = [];
  private returnFocus: Element | null = null;

  constructor(
    private enabled: boolean,
    private readonly setupUrl: string,
    /** Called before the page leaves for the set-up page (the builder stores its draft). */
    private readonly onLeave: () => void,
  ) {
    this.error = h('p', { class: 'error', 'data-testid': 'two-step-error', role: 'alert', hidden: true });
    this.continueButton = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-testid': 'two-step-continue',
        onclick: () => void this.recheck(),
      },
      'Continue',
    );
    const setup = h(
      'a',
      { class: 'btn', href: setupUrl, 'data-testid': 'two-step-setup', onclick: () => onLeave() },
      'Set Up Two-Step Authentication',
    );
    this.dialog = h(
      'dialog',
      { class: 'modal', 'data-testid': 'two-step-modal', 'aria-labelledby': 'two-step-title' },
      h('h2', { id: 'two-step-title' }, 'Two-step authentication is needed for webhooks'),
      h(
        'p',
        {},
        'A webhook sends your customers’ data to another system, so adding one or changing its URL, headers or body needs two-step authentication on your account. ',
        'Set it up (it takes a minute with an authenticator app) and you will come back to this flow with your changes kept; or, if you have just set it up in another tab, choose Continue.',
      ),
      this.error,
      h(
        'div',
        { class: 'modal-actions' },
        setup,
        this.continueButton,
        h('button', { type: 'button', onclick: () => this.dialog.close() }, 'Cancel'),
      ),
    );
    this.dialog.addEventListener('close', () => this.settle(false));
    document.body.append(this.dialog);
  }

  get twoStepEnabled(): boolean {
    return this.enabled;
  }

  /** Resolves true at once when two-step authentication is on; otherwise shows the modal. */
  require(): Promise<boolean> {
    if (this.enabled) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.pending.push(resolve);
      if (this.dialog.open) return;
      this.error.hidden = true;
      this.error.textContent = '';
      this.returnFocus = document.activeElement;
      this.dialog.showModal();
      this.continueButton.focus();
    });
  }

  private async recheck(): Promise<void> {
    this.continueButton.disabled = true;
    try {
      const me = await api<Me>('GET', '/api/auth/me');
      this.enabled = me.user.twoStepEnabled;
    } catch {
      this.enabled = false;
    } finally {
      this.continueButton.disabled = false;
    }
    if (this.enabled) {
      document.querySelectorAll('[data-two-step-badge]').forEach((b) => (b.textContent = 'Two-step: on'));
      this.settle(true);
      this.dialog.close();
      return;
    }
    this.error.hidden = false;
    this.error.replaceChildren(
      'Two-step authentication could not be verified: it is still off for your account. ',
      h('a', { href: this.setupUrl, onclick: () => this.onLeave() }, 'Set it up first'),
      ', then choose Continue again.',
    );
    this.continueButton.focus();
  }

  private settle(ok: boolean): void {
    const waiting = this.pending;
    this.pending = [];
    waiting.forEach((resolve) => resolve(ok));
    if (this.returnFocus instanceof HTMLElement && this.returnFocus.isConnected) this.returnFocus.focus();
    this.returnFocus = null;
  }
}
