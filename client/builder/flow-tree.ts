import Sortable from 'sortablejs';
import { h } from '../lib/dom';
import type { StepDraft } from './types';
import type { StepType } from './model';
import { describeSeconds, ROOT } from './model';

export interface FlowTreeOptions {
  steps: StepDraft[];
  triggerSummary: string;
  selectedId: string | null;
  /** Steps the last save found problems with: a short note on the card. */
  problems: ReadonlyMap<string, string[]>;
  readOnly: boolean;
  onSelect(id: string): void;
  onRemove(id: string): void;
  onAdd(type: StepType, list: string, index: number): void;
  onMove(id: string, list: string, index: number): void;
}

const TYPE_LABEL: Record<StepType, string> = {
  webhook: 'Webhook',
  delay: 'Time delay',
  split: 'Conditional split',
};
/** Icons as SVG paths (24×24, stroked): no icon font, nothing fetched. */
const ICON_PATHS: Record<StepType | 'trigger', string> = {
  webhook: 'M4 12h13M12 6l6 6-6 6M20 5v14',
  delay: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M12 7v5l3 3',
  split: 'M12 21v-7M12 14L6 7M12 14l6-7M4 5h4M16 5h4',
  trigger: 'M13 2L5 13h6l-1 9 8-11h-6z',
};

function icon(kind: StepType | 'trigger'): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `step-icon icon-${kind}`);
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICON_PATHS[kind]);
  svg.append(path);
  return svg;
}

/** One line saying what a step does, for its card and for messages. */
export function stepSummary(step: StepDraft): string {
  if (step.type === 'webhook') {
    try {
      return step.url ? `POST ${new URL(step.url).host}` : 'No URL yet';
    } catch {
      return step.url;
    }
  }
  if (step.type === 'delay') return `Wait ${describeSeconds(step.seconds)}`;
  return step.condition ? `If ${step.condition}` : 'No condition yet';
}

export function stepLabel(step: StepDraft): string {
  return `${TYPE_LABEL[step.type]}${step.type === 'webhook' && step.name ? ` “${step.name}”` : ''}`;
}

/** Shared by every step list and the palette, so that steps move between branches. */
const SORTABLE_BASE: Sortable.Options = {
  animation: 120,
  // Pointer events instead of native HTML5 drag and drop: the same in every browser and in tests.
  forceFallback: true,
  fallbackOnBody: true,
  fallbackTolerance: 3,
  swapThreshold: 0.65,
  emptyInsertThreshold: 24,
  ghostClass: 'drop-ghost',
};

/** The menu of an "add step here" button: Webhook, Time delay, Conditional split. Arrow keys move. */
function openAddMenu(button: HTMLButtonElement, choose: (type: StepType) => void): void {
  document.querySelectorAll('.add-menu').forEach((m) => m.remove());
  document
    .querySelectorAll('[data-testid="add-step-here"][aria-expanded="true"]')
    .forEach((b) => b.setAttribute('aria-expanded', 'false'));
  const close = (refocus: boolean) => {
    menu.remove();
    button.setAttribute('aria-expanded', 'false');
    if (refocus) button.focus();
  };
  const item = (type: StepType) =>
    h(
      'button',
      {
        type: 'button',
        role: 'menuitem',
        'data-testid': `add-${type}`,
        onclick: () => {
          close(false);
          choose(type);
        },
      },
      icon(type),
      ` ${TYPE_LABEL[type]}`,
    );
  const menu = h(
    'div',
    { class: 'add-menu', role: 'menu', 'aria-label': 'Add a step' },
    item('webhook'),
    item('delay'),
    item('split'),
  );
  menu.addEventListener('keydown', (ev) => {
    const items = Array.from(menu.querySelectorAll<HTMLButtonElement>('[role=menuitem]'));
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    if (ev.key === 'Escape') {
      ev.preventDefault();
      close(true);
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const next = (at + (ev.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      items[next]?.focus();
    } else if (ev.key === 'Tab') {
      close(false);
    }
  });
  button.setAttribute('aria-expanded', 'true');
  button.after(menu);
  menu.querySelector<HTMLButtonElement>('[role=menuitem]')?.focus();
}

/**
 * Draws the flow top to bottom from its trigger, splits as two branches side by side. Each list
 * is a SortableJS list (`[data-testid=step-list][data-list]`), and every place a step can go has
 * an "add step here" button. Returns a function that tears the drag-and-drop down.
 */
export function renderFlowTree(container: HTMLElement, opts: FlowTreeOptions): () => void {
  const sortables: Sortable[] = [];
  // Sortable has finished with the DOM when its end event returns; the model is redrawn after.
  const later = (fn: () => void) => setTimeout(fn, 0);

  const addButton = (list: string, index: number, where: string) =>
    opts.readOnly
      ? null
      : h(
          'div',
          { class: 'add-slot' },
          h(
            'button',
            {
              type: 'button',
              class: 'add-here',
              'data-testid': 'add-step-here',
              'data-list': list,
              'data-index': index,
              'aria-haspopup': 'menu',
              'aria-expanded': 'false',
              'aria-label': `Add a step ${where}`,
              onclick: (ev: Event) =>
                openAddMenu(ev.currentTarget as HTMLButtonElement, (type) => opts.onAdd(type, list, index)),
            },
            '+',
          ),
        );

  const card = (step: StepDraft) => {
    const problems = opts.problems.get(step.id) ?? [];
    const selected = opts.selectedId === step.id;
    return h(
      'div',
      {
        class: `step-card ${step.type}${selected ? ' selected' : ''}${problems.length ? ' has-problem' : ''}`,
        'data-testid': 'step',
        'data-step-id': step.id,
        'data-step-type': step.type,
        'data-problem': problems.length ? 'true' : null,
      },
      h(
        'button',
        {
          type: 'button',
          class: 'step-open',
          'aria-pressed': selected ? 'true' : 'false',
          'aria-label': `${stepLabel(step)}: ${stepSummary(step)}. Open its settings`,
          onclick: () => opts.onSelect(step.id),
        },
        icon(step.type),
        h(
          'span',
          { class: 'step-text' },
          h('b', {}, stepLabel(step)),
          h('span', { class: 'step-summary' }, stepSummary(step)),
        ),
      ),
      opts.readOnly
        ? null
        : h(
            'button',
            {
              type: 'button',
              class: 'step-remove',
              'data-testid': 'remove-step',
              'aria-label': `Remove ${stepLabel(step)} (${stepSummary(step)})`,
              onclick: () => opts.onRemove(step.id),
            },
            '✕',
          ),
      problems.length ? h('p', { class: 'step-problem' }, problems.join(' · ')) : null,
    );
  };

  const listBlock = (key: string, steps: StepDraft[], where: string): HTMLElement => {
    const ol = h(
      'ol',
      { class: 'step-list', 'data-testid': 'step-list', 'data-list': key, 'aria-label': `Steps ${where}` },
      ...steps.map((step, i) =>
        h(
          'li',
          { class: 'step-item', 'data-step-id': step.id },
          card(step),
          step.type === 'split'
            ? h(
                'div',
                { class: 'branches' },
                h(
                  'div',
                  { class: 'branch yes' },
                  h('h4', {}, 'Yes'),
                  listBlock(
                    `${step.id}.yes`,
                    step.yes,
                    `in the yes branch of ${step.condition || 'the split'}`,
                  ),
                ),
                h(
                  'div',
                  { class: 'branch no' },
                  h('h4', {}, 'No'),
                  listBlock(`${step.id}.no`, step.no, `in the no branch of ${step.condition || 'the split'}`),
                ),
              )
            : null,
          addButton(key, i + 1, `after ${stepLabel(step)} (${stepSummary(step)})`),
        ),
      ),
    );
    if (!opts.readOnly) {
      sortables.push(
        Sortable.create(ol, {
          ...SORTABLE_BASE,
          group: { name: 'steps', pull: true, put: true },
          draggable: '.step-item',
          handle: '.step-card',
          filter: '.step-remove',
          preventOnFilter: false,
          onEnd: (evt) => {
            const id = evt.item.dataset.stepId;
            const to = evt.to.dataset.list;
            const index = evt.newDraggableIndex ?? evt.newIndex;
            if (!id || !to || index === undefined) return;
            if (evt.to === evt.from && evt.oldDraggableIndex === index) return;
            later(() => opts.onMove(id, to, index));
          },
        }),
      );
    }
    return h('div', { class: 'list-block' }, addButton(key, 0, `at the start ${where}`), ol);
  };

  container.replaceChildren(
    h(
      'div',
      { class: 'trigger-node' },
      icon('trigger'),
      h(
        'span',
        { class: 'step-text' },
        h('b', {}, 'Trigger'),
        h('span', { class: 'step-summary' }, opts.triggerSummary),
      ),
    ),
    listBlock(ROOT, opts.steps, 'of the flow'),
    h('div', { class: 'flow-end' }, 'End of flow'),
  );
  return () => sortables.splice(0).forEach((s) => s.destroy());
}

/** The sidebar of actions, dragged into the flow (a copy stays in the palette). */
export function renderPalette(container: HTMLElement, onAdd: FlowTreeOptions['onAdd']): void {
  const item = (type: StepType, hint: string) =>
    h(
      'li',
      { class: `palette-item ${type}`, 'data-testid': `palette-${type}`, 'data-type': type },
      icon(type),
      h(
        'span',
        { class: 'step-text' },
        h('b', {}, TYPE_LABEL[type]),
        h('span', { class: 'step-summary' }, hint),
      ),
    );
  const list = h(
    'ul',
    { class: 'palette', 'data-testid': 'palette', 'aria-label': 'Actions to drag into the flow' },
    item('webhook', 'POST JSON to a URL'),
    item('delay', 'Wait before the next step'),
    item('split', 'Yes / no branches'),
  );
  Sortable.create(list, {
    ...SORTABLE_BASE,
    group: { name: 'steps', pull: 'clone', put: false },
    sort: false,
    onEnd: (evt) => {
      const type = evt.item.dataset.type as StepType | undefined;
      if (evt.to === list || !type) return;
      const to = evt.to.dataset.list;
      const index = evt.newDraggableIndex ?? evt.newIndex ?? 0;
      // The dragged copy is only a marker: the flow is redrawn from the model with the new step.
      evt.item.remove();
      if (to) setTimeout(() => onAdd(type, to, index), 0);
    },
  });
  container.replaceChildren(
    h('h2', { id: 'palette-title' }, 'Actions'),
    list,
    h(
      'p',
      { class: 'field-note' },
      'Drag an action into the flow, or use a + button in the flow (keyboard: Tab to it, Enter).',
    ),
  );
}
