import { showError } from '../lib/error-box';
import { api } from '../lib/http';

/**
 * What every page runs (views/layout.njk loads it before the page's own script): times in the
 * viewer's time zone, Sign out, and the Resend buttons of the analytics and delivery pages. It is
 * a file under /assets, not inline, so the Content-Security-Policy can forbid inline script.
 */

interface Delivery {
  status: string;
  reason: string | null;
}

const FINISHED = new Set(['delivered', 'failed', 'skipped']);

// Times are sent as UTC ISO strings and shown in the viewer's time zone.
const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
for (const el of document.querySelectorAll<HTMLTimeElement>('time[datetime]')) {
  const d = new Date(el.getAttribute('datetime') ?? '');
  if (!Number.isNaN(d.getTime())) {
    el.textContent = fmt.format(d);
    el.title = d.toISOString();
  }
}

async function waitForDelivery(id: string, note: HTMLElement): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const d = await api<{ delivery: Delivery }>('GET', `/api/webhooks/deliveries/${encodeURIComponent(id)}`)
      .then((r) => r.delivery)
      .catch(() => undefined);
    if (d) {
      note.textContent = `Resend ${d.status}${d.reason ? `: ${d.reason}` : ''}`;
      note.dataset.status = d.status;
      if (FINISHED.has(d.status)) return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function resendOne(btn: HTMLButtonElement): Promise<void> {
  const id = btn.dataset.resend!;
  const note = document.getElementById(`note-${id}`)!;
  btn.disabled = true;
  try {
    const out = await api<{ status: string; deliveryId: string }>(
      'POST',
      `/api/webhooks/deliveries/${encodeURIComponent(id)}/resend`,
      {},
    );
    note.textContent = out.status === 'already_running' ? 'A resend is already running…' : 'Resending…';
    await waitForDelivery(out.deliveryId, note);
  } catch (e) {
    showError(note, 'Resend failed: ', e);
    btn.disabled = false;
  }
}

async function resendAll(btn: HTMLButtonElement): Promise<void> {
  const target = document.getElementById(btn.dataset.note ?? '')!;
  btn.disabled = true;
  try {
    const r = await api<{ resent: number; notResendable: number; more: boolean }>(
      'POST',
      '/api/webhooks/deliveries/resend',
      JSON.parse(btn.dataset.resendAll ?? '{}') as unknown,
    );
    target.textContent =
      `${r.resent} resend${r.resent === 1 ? '' : 's'} started` +
      (r.notResendable ? `, ${r.notResendable} cannot be resent` : '') +
      (r.more ? '; more are left: click again' : '') +
      '. Refresh to follow them.';
  } catch (e) {
    showError(target, 'Resend failed: ', e);
  }
  btn.disabled = false;
}

document.addEventListener('click', (ev) => {
  const target = ev.target instanceof Element ? ev.target : null;
  if (target?.closest('button[data-sign-out]')) {
    void api('POST', '/api/auth/sign-out', {})
      .catch(() => undefined)
      .then(() => location.assign('/sign-in'));
    return;
  }
  const one = target?.closest<HTMLButtonElement>('button[data-resend]');
  if (one) return void resendOne(one);
  const all = target?.closest<HTMLButtonElement>('button[data-resend-all]');
  if (all) void resendAll(all);
});
