import { showError } from '../lib/error-box';
import { api } from '../lib/http';

/**
 * The flow list's actions: create (name and trigger, then on to the builder), duplicate, and
 * delete behind a confirmation dialog. The server decides who may; refusals are shown as they come.
 */

interface SavedFlow {
  id: string;
  name: string;
}

const errorBox = document.getElementById('flows-error') as HTMLElement;

function field(form: HTMLFormElement, name: string): string {
  const el = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
  return el?.value.trim() ?? '';
}

/** The trigger the create form describes; the API checks it (and names the field when it is wrong). */
function triggerOf(form: HTMLFormElement): Record<string, unknown> {
  const type = field(form, 'triggerType');
  switch (type) {
    case 'metric':
      return { type, metric: field(form, 'metric') };
    case 'list':
      return { type, listId: field(form, 'listId') };
    case 'segment':
      return { type, segmentId: field(form, 'segmentId') };
    case 'date':
      return { type, property: field(form, 'property') };
    default:
      return { type, threshold: { percent: Number(field(form, 'percent')) } };
  }
}

function showTriggerFields(form: HTMLFormElement): void {
  const type = field(form, 'triggerType');
  for (const el of form.querySelectorAll<HTMLElement>('[data-for-trigger]')) {
    el.hidden = el.dataset.forTrigger !== type;
  }
}

const createForm = document.getElementById('create-flow') as HTMLFormElement | null;
if (createForm) {
  const form = createForm;
  showTriggerFields(form);
  form.querySelector('select[name=triggerType]')?.addEventListener('change', () => showTriggerFields(form));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const submit = form.querySelector<HTMLButtonElement>('button[type=submit]')!;
    submit.disabled = true;
    errorBox.replaceChildren();
    api<SavedFlow>('POST', '/api/flows', {
      name: field(form, 'name'),
      trigger: triggerOf(form),
      status: 'draft',
      steps: [],
    })
      .then((flow) => location.assign(`/flows/${encodeURIComponent(flow.id)}`))
      .catch((err: unknown) => {
        showError(errorBox, 'The flow was not created: ', err);
        submit.disabled = false;
      });
  });
}

document.addEventListener('click', (ev) => {
  const target = ev.target instanceof Element ? ev.target : null;
  const dup = target?.closest<HTMLButtonElement>('button[data-duplicate]');
  if (dup) {
    dup.disabled = true;
    errorBox.replaceChildren();
    api<SavedFlow>('POST', `/api/flows/${encodeURIComponent(dup.dataset.duplicate!)}/duplicate`)
      .then(() => location.reload())
      .catch((err: unknown) => {
        showError(errorBox, `"${dup.dataset.name ?? ''}" was not duplicated: `, err);
        dup.disabled = false;
      });
    return;
  }
  const del = target?.closest<HTMLButtonElement>('button[data-delete]');
  if (del) openDeleteDialog(del);
});

const dialog = document.getElementById('delete-dialog') as HTMLDialogElement | null;
let deleting: HTMLButtonElement | undefined;

function openDeleteDialog(button: HTMLButtonElement): void {
  if (!dialog) return;
  deleting = button;
  dialog.querySelector('[data-flow-name]')!.textContent = button.dataset.name ?? '';
  dialog.querySelector<HTMLElement>('[data-dialog-error]')!.replaceChildren();
  dialog.showModal();
  dialog.querySelector<HTMLButtonElement>('button[value=cancel]')!.focus();
}

dialog?.querySelector('form')?.addEventListener('submit', (ev) => {
  const submitter = ev.submitter as HTMLButtonElement | null;
  if (submitter?.value !== 'confirm' || !deleting) return; // Cancel: the dialog closes itself.
  ev.preventDefault();
  const button = deleting;
  const id = button.dataset.delete!;
  const note = dialog.querySelector<HTMLElement>('[data-dialog-error]')!;
  submitter.disabled = true;
  api<void>('DELETE', `/api/flows/${encodeURIComponent(id)}`)
    .then(() => {
      button.closest('tr')?.remove();
      dialog.close();
    })
    .catch((err: unknown) => showError(note, 'The flow was not deleted: ', err))
    .finally(() => {
      submitter.disabled = false;
    });
});

// Focus goes back to the Delete button, or stays on the page when its row is gone.
dialog?.addEventListener('close', () => {
  if (deleting?.isConnected) deleting.focus();
  deleting = undefined;
});
