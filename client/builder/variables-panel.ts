import { h } from '../lib/dom';
import type { TriggerType } from './types';
import { exampleText, keyOfPath, variablesTitle } from './variable-paths';

/** One variable as `GET /api/flows/:id/variables` lists it (src/flows/variables.ts). */
export interface Variable {
  path: string;
  source: 'profile' | 'profile_property' | 'event';
  type: string;
  example: unknown;
  itemFields?: { name: string; type: string; example: unknown }[];
}

/** The chosen sample, whose values replace the examples: a profile as the API shows it, and an event's properties. */
export interface SampleValues {
  profile?: Record<string, unknown>;
  event?: Record<string, unknown>;
}

function sampleValue(v: Variable, sample: SampleValues): { found: boolean; value?: unknown } {
  const k = keyOfPath(v.path);
  if (!k) return { found: false };
  if (k.root === 'event') {
    if (!sample.event) return { found: false };
    return { found: true, value: sample.event[k.key] };
  }
  if (!sample.profile) return { found: false };
  const props = sample.profile.properties;
  if (k.key in sample.profile) return { found: true, value: sample.profile[k.key] };
  if (props && typeof props === 'object' && k.key in props) {
    return { found: true, value: (props as Record<string, unknown>)[k.key] };
  }
  return { found: true, value: undefined };
}

export interface VariablesPanelOptions {
  idPrefix: string;
  triggerType: TriggerType;
  /** A click (or Enter) on a variable: insert its template text at the editor's cursor. */
  onInsert(path: string): void;
}

/**
 * The variables panel: every variable the flow's templates can use with its value for the sample,
 * filtered as the user types, each a button that inserts it and a second one that copies it. Arrow
 * keys move between variables.
 */
export class VariablesPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly search: HTMLInputElement;
  private readonly status: HTMLElement;
  private variables: Variable[] = [];
  private sample: SampleValues = {};

  constructor(private readonly opts: VariablesPanelOptions) {
    const titleId = `${opts.idPrefix}-vars-title`;
    const searchId = `${opts.idPrefix}-vars-search`;
    this.search = h('input', {
      id: searchId,
      type: 'search',
      'data-testid': 'variables-search',
      placeholder: 'Search by name, e.g. email',
      autocomplete: 'off',
      'aria-controls': `${opts.idPrefix}-vars-list`,
      oninput: () => this.render(),
      onkeydown: (e: Event) => {
        // Down from the search moves into the list, as in a combobox.
        if ((e as KeyboardEvent).key !== 'ArrowDown') return;
        const first = this.list.querySelector<HTMLButtonElement>('button.wh-var');
        if (!first) return;
        e.preventDefault();
        first.focus();
      },
    });
    this.list = h('ul', {
      id: `${opts.idPrefix}-vars-list`,
      class: 'wh-vars-list',
      'aria-labelledby': titleId,
      onkeydown: (e: Event) => this.onKey(e as KeyboardEvent),
    });
    this.status = h(
      'p',
      { class: 'wh-muted', role: 'status', 'data-testid': 'variables-status' },
      'Loading variables…',
    );
    this.element = h(
      'section',
      { class: 'wh-vars', 'data-testid': 'variables-panel', 'aria-labelledby': titleId },
      h('h4', { id: titleId, 'data-testid': 'variables-title' }, variablesTitle(opts.triggerType)),
      h(
        'p',
        { class: 'wh-muted' },
        'Click a variable to insert it at the cursor in the body, or copy it. Values are from the sample below.',
      ),
      h('label', { for: searchId, class: 'wh-label' }, 'Search variables'),
      this.search,
      this.status,
      this.list,
    );
  }

  setVariables(variables: Variable[]): void {
    this.variables = variables;
    this.render();
  }

  /** Each variable as the body's completion offers it: the text inside `{{ … }}` and its example. */
  completions(): { label: string; detail: string }[] {
    return [...this.variables, ...this.extraVariables()].map((v) => {
      const s = sampleValue(v, this.sample);
      return {
        label: v.path.replace(/^\{\{\s*/, '').replace(/\s*\}\}$/, ''),
        detail: exampleText(s.found ? s.value : v.example),
      };
    });
  }

  setError(message: string): void {
    this.status.textContent = message;
  }

  setSample(sample: SampleValues): void {
    this.sample = sample;
    this.render();
  }

  /** Profile properties of the sample that no recent profile had, so they can be used too. */
  private extraVariables(): Variable[] {
    const props = this.sample.profile?.properties;
    if (!props || typeof props !== 'object') return [];
    const known = new Set(this.variables.map((v) => keyOfPath(v.path)?.key).filter((k) => k !== undefined));
    return Object.entries(props as Record<string, unknown>)
      .filter(([k]) => !known.has(k))
      .map(([k, v]) => ({
        path: /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)
          ? `{{ person.${k} }}`
          : `{{ person|lookup:${JSON.stringify(k)} }}`,
        source: 'profile_property' as const,
        type: Array.isArray(v) ? 'list' : v === null ? 'null' : typeof v,
        example: v,
      }));
  }

  private render(): void {
    const q = this.search.value.trim().toLowerCase();
    const all = [...this.variables, ...this.extraVariables()];
    const shown = all.filter((v) => v.path.toLowerCase().includes(q));
    this.list.replaceChildren(...shown.map((v) => this.row(v)));
    this.status.textContent =
      all.length === 0
        ? 'No variables yet.'
        : shown.length === 0
          ? `No variable matches "${this.search.value.trim()}".`
          : q
            ? `${shown.length} of ${all.length} variables`
            : `${all.length} variables`;
  }

  private row(v: Variable): HTMLLIElement {
    const s = sampleValue(v, this.sample);
    const value = s.found ? s.value : v.example;
    const source = v.source === 'event' ? 'event' : 'profile';
    const insert = h(
      'button',
      {
        type: 'button',
        class: 'wh-var',
        'data-testid': 'variable',
        'data-path': v.path,
        'data-source': source,
        title: `Insert ${v.path} at the cursor`,
        onclick: () => this.opts.onInsert(v.path),
      },
      h('code', { class: 'wh-var-path' }, v.path),
      h('span', { class: 'wh-var-example', 'data-testid': 'variable-example' }, exampleText(value)),
    );
    const fields = v.itemFields?.length
      ? h(
          'span',
          { class: 'wh-muted wh-var-fields' },
          `each item: ${v.itemFields.map((f) => f.name).join(', ')}`,
        )
      : null;
    const copy = h(
      'button',
      {
        type: 'button',
        class: 'wh-copy',
        'data-testid': 'variable-copy',
        'aria-label': `Copy ${v.path}`,
        onclick: (e: Event) => void this.copy(v.path, e.currentTarget as HTMLButtonElement),
      },
      'Copy',
    );
    return h('li', {}, insert, copy, fields);
  }

  private async copy(text: string, button: HTMLButtonElement): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Copy failed';
    }
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  }

  private onKey(e: KeyboardEvent): void {
    const buttons = [...this.list.querySelectorAll<HTMLButtonElement>('button.wh-var')];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const copyAt = [...this.list.querySelectorAll<HTMLButtonElement>('button.wh-copy')].indexOf(
      document.activeElement as HTMLButtonElement,
    );
    const current = at >= 0 ? at : copyAt;
    let next: number | undefined;
    if (e.key === 'ArrowDown') next = Math.min(current + 1, buttons.length - 1);
    else if (e.key === 'ArrowUp') next = Math.max(current - 1, 0);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = buttons.length - 1;
    if (next === undefined || buttons.length === 0) return;
    e.preventDefault();
    buttons[next]?.focus();
  }

  focusSearch(): void {
    this.search.focus();
  }
}
