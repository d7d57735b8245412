import { api, ApiError } from '../lib/http';
import { h } from '../lib/dom';
import type {
  BuilderPageData,
  FlowView,
  MountWebhookEditor,
  StepCheck,
  StepDraft,
  StepProblem,
  WebhookEditorHandle,
  WebhookStepDraft,
} from './types';
import type { StepType } from './model';
import {
  clone,
  findPlace,
  findStep,
  insertStep,
  listOf,
  moveStep,
  newStep,
  ROOT,
  stepIds,
  stepOfPath,
} from './model';
import { renderFlowTree, renderPalette, stepLabel, stepSummary } from './flow-tree';
import type { TriggerDraft } from './trigger-settings';
import { renderTriggerSettings } from './trigger-settings';
import { delaySettings, splitSettings } from './step-settings';
import { TwoStepModal } from './two-step-modal';

/** `signingSecrets`: secrets this save generated, in full; shown once, in the save status. */
type SavedFlow = FlowView & { checks: StepCheck[]; signingSecrets?: { stepId: string; secret: string }[] };

interface Draft {
  name: string;
  status: FlowView['status'];
  steps: StepDraft[];
  trigger: TriggerDraft;
}

/** What is kept in sessionStorage while the viewer sets up two-step authentication. */
interface Stored {
  version: number;
  draft: Draft;
  selectedId: string | null;
  pendingAdd: { list: string; index: number } | null;
}

/** The nodes that are there (replaceChildren takes no nulls). */
const present = (...nodes: (Node | null)[]): Node[] => nodes.filter((n): n is Node => n !== null);
const storageKey = (flowId: string) => `hookflow.builder.${flowId}`;
const filtersText = (v: unknown) => (v === undefined || v === null ? '' : JSON.stringify(v, null, 2));

function triggerSummary(t: FlowView['trigger']): string {
  const s = (v: unknown) => (typeof v === 'string' && v ? v : '…');
  switch (t.type) {
    case 'metric':
      return `When ${s(t.metric)} happens`;
    case 'list':
      return `When a profile is added to list ${s(t.listId)}`;
    case 'segment':
      return `When a profile enters segment ${s(t.segmentId)}`;
    case 'date':
      return `On the date in ${s(t.property)}`;
    case 'price_drop':
      return 'When a catalog item’s price drops';
  }
}

/**
 * The flow builder: owns the draft (name, status, trigger, steps), draws it, and saves it with
 * `PATCH /api/flows/:id`. The webhook step's panel is mounted through the contract in types.ts.
 */
export class Builder {
  private draft: Draft;
  private savedIds: Set<string>;
  private selectedId: string | null = null;
  private lastRemoved: { step: StepDraft; list: string; index: number } | null = null;
  private pendingAdd: { list: string; index: number } | null = null;
  private checks = new Map<string, StepCheck>();
  private problems = new Map<string, StepProblem[]>();
  private editor: WebhookEditorHandle | null = null;
  private destroyTree: () => void = () => undefined;
  private readonly readOnly: boolean;
  private readonly modal: TwoStepModal;
  private version: number;

  private readonly treeBox = h('div', { class: 'flow-tree' });
  private readonly settingsBox = h('aside', {
    class: 'settings',
    'aria-labelledby': 'settings-title',
    tabindex: -1,
  });
  private readonly triggerBox = h('div', { class: 'trigger-settings' });
  private readonly status = h('div', {
    class: 'save-status',
    'data-testid': 'save-status',
    role: 'status',
    'aria-live': 'polite',
    hidden: true,
  });
  private readonly undoBar = h('div', { class: 'undo-bar', hidden: true });
  private readonly nameInput: HTMLInputElement;
  private readonly statusSelect: HTMLSelectElement;
  private readonly saveButton: HTMLButtonElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly data: BuilderPageData,
    private readonly mountWebhookEditor: MountWebhookEditor,
  ) {
    const flow = data.flow;
    this.version = flow.version;
    this.readOnly = !data.canEditFlow;
    this.draft = {
      name: flow.name,
      status: flow.status,
      steps: clone(flow.steps),
      trigger: {
        trigger: clone(flow.trigger),
        reentry: flow.reentry ? clone(flow.reentry) : { mode: 'always' },
        flowFiltersText: filtersText(flow.flowFilters),
        triggerFiltersText: filtersText(flow.triggerFilters),
      },
    };
    this.savedIds = stepIds(flow.steps);
    const setupUrl = `${data.twoStepSetupUrl}?next=${encodeURIComponent(`/flows/${flow.id}`)}`;
    this.modal = new TwoStepModal(data.viewer.twoStepEnabled, setupUrl, () => this.store());

    this.nameInput = h('input', {
      id: 'flow-name',
      value: flow.name,
      disabled: this.readOnly,
      autocomplete: 'off',
    });
    this.nameInput.addEventListener('input', () => (this.draft.name = this.nameInput.value));
    this.statusSelect = h(
      'select',
      { id: 'flow-status', disabled: this.readOnly },
      h('option', { value: 'draft' }, 'Draft (no runs start)'),
      h('option', { value: 'live' }, 'Live'),
    );
    this.statusSelect.value = flow.status;
    this.statusSelect.addEventListener(
      'change',
      () => (this.draft.status = this.statusSelect.value as Draft['status']),
    );
    this.saveButton = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-testid': 'save-flow',
        hidden: this.readOnly,
        onclick: () => void this.save(),
      },
      'Save',
    );
  }

  start(): void {
    const restored = this.restore();
    // A link from Webhook Analytics (`/flows/<id>#step-<stepId>`) opens that step's settings.
    const linked = /^#step-([A-Za-z0-9_-]{1,64})$/.exec(location.hash)?.[1];
    if (!restored && linked !== undefined && findStep(this.draft.steps, linked)) this.selectedId = linked;
    const d = this.data;
    const palette = h('aside', { class: 'palette-panel', 'aria-labelledby': 'palette-title' });
    if (!this.readOnly) renderPalette(palette, (type, list, index) => void this.addStep(type, list, index));
    this.root.replaceChildren(
      ...present(
        h(
          'div',
          { class: 'toolbar' },
          h('div', { class: 'field grow' }, h('label', { for: 'flow-name' }, 'Flow name'), this.nameInput),
          h('div', { class: 'field' }, h('label', { for: 'flow-status' }, 'Status'), this.statusSelect),
          this.saveButton,
        ),
        this.readOnly
          ? h(
              'div',
              { class: 'read-only', 'data-testid': 'read-only-banner', role: 'note' },
              d.readOnlyReason ?? 'This flow is read-only for you.',
            )
          : null,
        restored
          ? h(
              'p',
              { class: 'restored', role: 'status' },
              'Your unsaved changes were kept while you set up two-step authentication. Save to keep them.',
            )
          : null,
        this.status,
        this.undoBar,
        h(
          'div',
          { class: `builder-grid${this.readOnly ? ' read-only-grid' : ''}` },
          this.readOnly ? null : palette,
          h(
            'section',
            { class: 'canvas', 'aria-label': 'Flow' },
            h(
              'details',
              { class: 'trigger-panel', open: true },
              h('summary', {}, h('h2', {}, 'Trigger and entry')),
              this.triggerBox,
            ),
            this.treeBox,
          ),
          this.settingsBox,
        ),
      ),
    );
    let triggerType = this.draft.trigger.trigger.type;
    renderTriggerSettings(this.triggerBox, this.draft.trigger, this.readOnly, () => {
      this.drawTree();
      // The webhook panel's variables depend on the trigger type (profile only, or event too).
      if (this.draft.trigger.trigger.type !== triggerType) {
        triggerType = this.draft.trigger.trigger.type;
        this.drawSettings();
      }
    });
    this.drawTree();
    this.drawSettings();
    const pending = restored?.pendingAdd;
    if (pending && this.modal.twoStepEnabled) void this.addStep('webhook', pending.list, pending.index);
  }

  // ---- drawing ---------------------------------------------------------------------------

  private drawTree(): void {
    this.destroyTree();
    const problems = new Map<string, string[]>();
    for (const [id, list] of this.problems)
      problems.set(
        id,
        list.map((p) => `${p.path || 'step'}: ${p.message}`),
      );
    for (const [id, c] of this.checks)
      if (!c.ok && !problems.has(id)) problems.set(id, [c.error ?? 'check failed']);
    this.destroyTree = renderFlowTree(this.treeBox, {
      steps: this.draft.steps,
      triggerSummary: triggerSummary(this.draft.trigger.trigger),
      selectedId: this.selectedId,
      problems,
      readOnly: this.readOnly,
      onSelect: (id) => this.select(id),
      onRemove: (id) => this.remove(id),
      onAdd: (type, list, index) => void this.addStep(type, list, index),
      onMove: (id, list, index) => {
        moveStep(this.draft.steps, id, list, index);
        this.drawTree();
      },
    });
  }

  private drawSettings(focus = false): void {
    this.editor?.destroy();
    this.editor = null;
    const step = this.selectedId ? findStep(this.draft.steps, this.selectedId) : undefined;
    if (!step) {
      this.selectedId = null;
      this.settingsBox.replaceChildren(
        h('h2', { id: 'settings-title' }, 'Step settings'),
        h('p', { class: 'field-note' }, 'Select a step in the flow to see and change its settings.'),
      );
      return;
    }
    const problems = this.problems.get(step.id) ?? [];
    const close = h(
      'button',
      {
        type: 'button',
        class: 'close',
        'aria-label': 'Close the step settings',
        onclick: () => {
          const id = this.selectedId;
          this.selectedId = null;
          this.drawTree();
          this.drawSettings();
          if (id) this.focusCard(id);
        },
      },
      'Close',
    );
    const body = h('div', { class: 'settings-body' });
    const onChange = () => this.drawTree();
    if (step.type === 'delay') body.append(delaySettings(step, this.readOnly, problems, onChange));
    else if (step.type === 'split') body.append(splitSettings(step, this.readOnly, problems, onChange));
    else {
      this.editor = this.mountWebhookEditor(body, {
        flowId: this.data.flow.id,
        saved: this.savedIds.has(step.id),
        step: clone(step),
        triggerType: this.draft.trigger.trigger.type,
        readOnly: this.readOnly || !this.data.canEditWebhooks,
        onChange: (next: WebhookStepDraft) => {
          const place = findPlace(this.draft.steps, step.id);
          if (!place) return;
          place.list[place.index] = { ...next, id: step.id, type: 'webhook' };
          this.drawTree();
        },
        requireTwoStep: () => this.modal.require(),
      });
      this.editor.showSaveResult(this.checks.get(step.id), problems);
    }
    const analytics =
      step.type === 'webhook' && this.savedIds.has(step.id)
        ? h(
            'a',
            {
              href: `${this.data.analyticsBase}/${encodeURIComponent(this.data.flow.id)}/${encodeURIComponent(step.id)}`,
            },
            'Webhook Analytics of this step',
          )
        : null;
    this.settingsBox.replaceChildren(
      h(
        'div',
        { class: 'settings-head' },
        h('h2', { id: 'settings-title', class: 'visually-hidden' }, `${stepLabel(step)} settings`),
        h('span', { class: 'step-id' }, `Step ${step.id}`),
        analytics,
        close,
      ),
      body,
    );
    if (focus) {
      const first = body.querySelector<HTMLElement>(
        'input:not([disabled]), textarea:not([disabled]), select:not([disabled]), [contenteditable=true]',
      );
      (first ?? this.settingsBox).focus();
      if (window.matchMedia('(max-width: 900px)').matches)
        this.settingsBox.scrollIntoView({ block: 'start' });
    }
  }

  private focusCard(id: string): void {
    this.treeBox
      .querySelector<HTMLElement>(`[data-testid="step"][data-step-id="${CSS.escape(id)}"] .step-open`)
      ?.focus();
  }

  // ---- editing ---------------------------------------------------------------------------

  private select(id: string): void {
    this.selectedId = this.selectedId === id ? null : id;
    this.drawTree();
    this.drawSettings(this.selectedId !== null);
    if (this.selectedId === null) this.focusCard(id);
  }

  /** Adds a step where it was dropped or asked for; a webhook first needs two-step authentication. */
  private async addStep(type: StepType, list: string, index: number): Promise<void> {
    if (this.readOnly || !listOf(this.draft.steps, list)) return;
    if (type === 'webhook' && !this.modal.twoStepEnabled) {
      this.pendingAdd = { list, index };
      const ok = await this.modal.require();
      this.pendingAdd = null;
      if (!ok) return;
    }
    const step = newStep(type, stepIds(this.draft.steps));
    if (!insertStep(this.draft.steps, step, list, index)) return;
    this.selectedId = step.id;
    this.drawTree();
    this.drawSettings(true);
  }

  private remove(id: string): void {
    const place = findPlace(this.draft.steps, id);
    if (!place) return;
    place.list.splice(place.index, 1);
    this.lastRemoved = { step: place.step, list: place.key, index: place.index };
    if (this.selectedId && !findStep(this.draft.steps, this.selectedId)) this.selectedId = null;
    this.drawTree();
    this.drawSettings();
    const undo = h(
      'button',
      { type: 'button', 'data-testid': 'undo-remove', onclick: () => this.undo() },
      'Undo',
    );
    this.undoBar.replaceChildren(`Removed ${stepLabel(place.step)} (${stepSummary(place.step)}). `, undo);
    this.undoBar.hidden = false;
    undo.focus();
  }

  private undo(): void {
    const r = this.lastRemoved;
    if (!r) return;
    this.lastRemoved = null;
    const list = listOf(this.draft.steps, r.list) ? r.list : ROOT;
    insertStep(this.draft.steps, r.step, list, list === r.list ? r.index : this.draft.steps.length);
    this.undoBar.hidden = true;
    this.undoBar.replaceChildren();
    this.selectedId = r.step.id;
    this.drawTree();
    this.drawSettings();
    this.focusCard(r.step.id);
  }

  // ---- saving ----------------------------------------------------------------------------

  private showStatus(
    state: 'saving' | 'live' | 'saved' | 'failed',
    title: string,
    items: HTMLElement[] = [],
  ): void {
    this.status.hidden = false;
    this.status.dataset.state = state;
    this.status.className = `save-status ${state}`;
    this.status.replaceChildren(
      h('p', { class: 'status-title' }, title),
      ...(items.length ? [h('ul', {}, ...items)] : []),
    );
  }

  private problemItem(path: string, message: string, steps: readonly StepDraft[]): HTMLElement {
    const found = stepOfPath(steps, path);
    if (!found) return h('li', { 'data-path': path }, h('b', {}, path), `: ${message}`);
    const id = found.step.id;
    return h(
      'li',
      { 'data-step-id': id, 'data-path': path },
      h(
        'button',
        { type: 'button', class: 'link', onclick: () => this.select(id) },
        `${stepLabel(found.step)} (${stepSummary(found.step)})`,
      ),
      found.rest ? ` · ${found.rest}` : '',
      `: ${message}`,
    );
  }

  private payload(): Record<string, unknown> | string {
    const t = this.draft.trigger;
    const parse = (text: string, what: string): unknown => {
      if (!text.trim()) return null;
      try {
        return JSON.parse(text) as unknown;
      } catch (e) {
        throw new Error(`${what} are not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    try {
      return {
        name: this.draft.name,
        status: this.draft.status,
        trigger: t.trigger,
        steps: this.draft.steps,
        reentry: t.reentry,
        flowFilters: parse(t.flowFiltersText, 'Flow filters'),
        triggerFilters: t.trigger.type === 'metric' ? parse(t.triggerFiltersText, 'Trigger filters') : null,
      };
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  async save(): Promise<void> {
    if (this.readOnly) return;
    const body = this.payload();
    if (typeof body === 'string') return this.showStatus('failed', `Not saved: ${body}`);
    const sent = clone(this.draft.steps);
    this.saveButton.disabled = true;
    this.showStatus('saving', 'Saving…');
    try {
      const saved = await api<SavedFlow>(
        'PATCH',
        `/api/flows/${encodeURIComponent(this.data.flow.id)}`,
        body,
      );
      this.applySaved(saved);
    } catch (e) {
      this.applyFailure(e, sent);
    } finally {
      this.saveButton.disabled = false;
    }
  }

  private applySaved(saved: SavedFlow): void {
    this.version = saved.version;
    this.draft.steps = clone(saved.steps);
    this.draft.status = saved.status;
    this.statusSelect.value = saved.status;
    this.savedIds = stepIds(saved.steps);
    this.problems.clear();
    this.checks = new Map(saved.checks.map((c) => [c.stepId, c]));
    const items = saved.checks.flatMap((c) => {
      const step = findStep(this.draft.steps, c.stepId);
      const name = step ? `${stepLabel(step)} (${stepSummary(step)})` : c.stepId;
      return [
        ...(c.live && c.ok ? [h('li', { 'data-step-id': c.stepId }, `${name}: endpoint checked`)] : []),
        ...c.warnings.map((w) => h('li', { 'data-step-id': c.stepId, class: 'warn' }, `${name}: ${w}`)),
      ];
    });
    for (const { stepId, secret } of saved.signingSecrets ?? []) {
      const step = findStep(this.draft.steps, stepId);
      const name = step ? `${stepLabel(step)} (${stepSummary(step)})` : stepId;
      items.push(
        h(
          'li',
          { 'data-step-id': stepId, 'data-testid': 'signing-secret' },
          `${name}: signing secret `,
          h('code', { class: 'signing-secret' }, secret),
          ' — copy it into the endpoint now: it is shown only this once.',
        ),
      );
    }
    const live = saved.status === 'live';
    this.showStatus(
      live ? 'live' : 'saved',
      live ? 'Saved: the flow is live.' : 'Saved as a draft: no runs start until it is live.',
      items,
    );
    sessionStorage.removeItem(storageKey(this.data.flow.id));
    this.drawTree();
    this.drawSettings();
    const step = this.selectedId ? findStep(this.draft.steps, this.selectedId) : undefined;
    if (step?.type === 'webhook') this.editor?.markSaved(clone(step));
  }

  private applyFailure(e: unknown, sent: StepDraft[]): void {
    this.problems.clear();
    this.checks.clear();
    if (!(e instanceof ApiError)) {
      this.showStatus('failed', `Not saved: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (e.code === 'two_step_required') {
      this.showStatus('failed', `Not saved: ${e.message}`);
      void this.modal.require().then((ok) => (ok ? this.save() : undefined));
      return;
    }
    const checks = Array.isArray(e.body.checks) ? (e.body.checks as StepCheck[]) : [];
    for (const c of checks) this.checks.set(c.stepId, c);
    for (const d of e.details) {
      const found = stepOfPath(sent, d.path);
      if (!found) continue;
      const detail = d as typeof d & { line?: number; column?: number };
      const list = this.problems.get(found.step.id) ?? [];
      list.push({
        path: found.rest,
        message: d.message,
        ...(detail.line ? { line: detail.line } : {}),
        ...(detail.column ? { column: detail.column } : {}),
      });
      this.problems.set(found.step.id, list);
    }
    const items = e.details.map((d) => this.problemItem(d.path, d.message, sent));
    for (const c of checks) {
      const step = findStep(sent, c.stepId);
      for (const w of c.warnings)
        items.push(
          h('li', { 'data-step-id': c.stepId, class: 'warn' }, `${step ? stepLabel(step) : c.stepId}: ${w}`),
        );
    }
    const live = this.draft.status === 'live' && e.status === 422 ? ' The flow did not go live.' : '';
    this.showStatus('failed', `Not saved: ${e.message}.${live}`, items);
    this.drawTree();
    this.drawSettings();
  }

  // ---- the way to two-step set-up and back ------------------------------------------------

  private store(): void {
    const stored: Stored = {
      version: this.version,
      draft: this.draft,
      selectedId: this.selectedId,
      pendingAdd: this.pendingAdd,
    };
    sessionStorage.setItem(storageKey(this.data.flow.id), JSON.stringify(stored));
  }

  /** The draft kept before leaving for two-step set-up, if it still fits the saved flow. */
  private restore(): Stored | undefined {
    const key = storageKey(this.data.flow.id);
    const raw = sessionStorage.getItem(key);
    sessionStorage.removeItem(key);
    if (!raw || this.readOnly) return undefined;
    try {
      const stored = JSON.parse(raw) as Stored;
      // A draft of an older version would undo someone else's save: it is dropped.
      if (stored.version !== this.version) return undefined;
      this.draft = stored.draft;
      this.nameInput.value = stored.draft.name;
      this.statusSelect.value = stored.draft.status;
      this.selectedId = stored.selectedId;
      return stored;
    } catch {
      return undefined;
    }
  }
}
