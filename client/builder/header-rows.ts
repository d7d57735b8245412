import { h } from '../lib/dom';

/** The API masks saved values with this run of bullets (src/secrets/index.ts). */
const MASK = '••••';
/** RFC 9110 token characters: what a header name may contain. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

interface Row {
  element: HTMLElement;
  name: HTMLInputElement;
  value: HTMLInputElement;
  message: HTMLElement;
  /** The masked value as saved: sent back unchanged it keeps the stored secret. */
  masked: string | undefined;
  /** The name the masked value was saved under (renaming means giving a new value). */
  savedName: string | undefined;
}

export interface HeaderRowsOptions {
  idPrefix: string;
  readOnly: boolean;
  headers: Record<string, string>;
  onEdit(): void;
}

/**
 * *+ Add Headers*: name/value rows. A saved value is shown as the API masks it and sent back as
 * is; *Replace* swaps it for an empty password field, so a secret typed here is never shown again.
 */
export class HeaderRows {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly addButton: HTMLButtonElement;
  private readonly general: HTMLElement;
  private rows: Row[] = [];
  private counter = 0;

  constructor(private readonly opts: HeaderRowsOptions) {
    this.list = h('div', { class: 'wh-headers', 'data-testid': 'header-rows' });
    this.general = h('p', {
      class: 'wh-msg wh-bad',
      'aria-live': 'polite',
      'data-testid': 'headers-message',
    });
    this.addButton = h(
      'button',
      {
        type: 'button',
        'data-testid': 'add-header',
        disabled: opts.readOnly,
        onclick: () => {
          const row = this.addRow('', undefined);
          row.name.focus();
          this.validate();
        },
      },
      '+ Add Headers',
    );
    this.element = h(
      'section',
      { 'aria-labelledby': `${opts.idPrefix}-headers-title` },
      h('h4', { id: `${opts.idPrefix}-headers-title` }, 'Headers'),
      h('p', { class: 'wh-muted' }, 'Values are stored encrypted and shown masked once saved.'),
      this.list,
      this.general,
      this.addButton,
    );
    this.reset(opts.headers);
  }

  /** Shows these headers as saved (masked values) or as the draft has them. */
  reset(headers: Record<string, string>): void {
    this.rows = [];
    this.list.replaceChildren();
    for (const [name, value] of Object.entries(headers)) {
      this.addRow(name, value.includes(MASK) ? value : undefined, value);
    }
    this.validate();
  }

  private addRow(name: string, masked: string | undefined, plain = ''): Row {
    const n = ++this.counter;
    const p = `${this.opts.idPrefix}-h${n}`;
    const ro = this.opts.readOnly;
    const nameInput = h('input', {
      id: `${p}-name`,
      type: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'Authorization',
      'data-testid': 'header-name',
      'aria-describedby': `${p}-msg`,
      disabled: ro,
    });
    nameInput.value = name;
    const valueInput = h('input', {
      id: `${p}-value`,
      autocomplete: 'new-password',
      spellcheck: 'false',
      'data-testid': 'header-value',
      'aria-describedby': `${p}-msg`,
      disabled: ro,
    });
    const message = h('p', { id: `${p}-msg`, class: 'wh-msg wh-bad', 'aria-live': 'polite' });
    const row: Row = {
      element: h('div'),
      name: nameInput,
      value: valueInput,
      message,
      masked,
      savedName: masked !== undefined ? name : undefined,
    };
    this.showValue(row, masked === undefined ? plain : undefined);

    const replace = h(
      'button',
      {
        type: 'button',
        'data-testid': 'header-replace',
        'aria-label': `Replace the value of header ${name || 'this header'}`,
        hidden: masked === undefined || ro,
        onclick: () => {
          this.replaceValue(row);
          replace.hidden = true;
          row.value.focus();
          this.edited();
        },
      },
      'Replace',
    );
    const remove = h(
      'button',
      {
        type: 'button',
        'data-testid': 'header-remove',
        'aria-label': `Remove header ${name || 'row'}`,
        disabled: ro,
        onclick: () => {
          const at = this.rows.indexOf(row);
          this.rows.splice(at, 1);
          row.element.remove();
          (this.rows[at]?.name ?? this.addButton).focus();
          this.edited();
        },
      },
      'Remove',
    );
    nameInput.addEventListener('input', () => {
      // A saved secret belongs to its header name: renaming it needs the value again.
      if (row.masked !== undefined && nameInput.value.trim() !== row.savedName) {
        this.replaceValue(row);
        replace.hidden = true;
      }
      remove.setAttribute('aria-label', `Remove header ${nameInput.value || 'row'}`);
      this.edited();
    });
    valueInput.addEventListener('input', () => this.edited());
    row.element = h(
      'div',
      { class: 'wh-header', 'data-testid': 'header-row' },
      h('div', {}, h('label', { for: nameInput.id, class: 'wh-label' }, 'Name'), nameInput),
      h('div', {}, h('label', { for: valueInput.id, class: 'wh-label' }, 'Value'), valueInput),
      h('div', { class: 'wh-header-actions' }, replace, remove),
      message,
    );
    this.rows.push(row);
    this.list.append(row.element);
    return row;
  }

  /** A saved value: shown masked, read-only. A new one: a password field, never shown. */
  private showValue(row: Row, plain: string | undefined): void {
    if (row.masked !== undefined && plain === undefined) {
      row.value.type = 'text';
      row.value.readOnly = true;
      row.value.value = row.masked;
      row.value.dataset.masked = 'true';
      row.value.title = 'The saved value, masked; it is kept unless you replace it';
    } else {
      row.value.type = 'password';
      row.value.readOnly = false;
      row.value.value = plain ?? '';
      delete row.value.dataset.masked;
      row.value.placeholder = 'value (stored encrypted)';
    }
  }

  private replaceValue(row: Row): void {
    row.masked = undefined;
    this.showValue(row, '');
  }

  private edited(): void {
    this.validate();
    this.opts.onEdit();
  }

  /** Header rows as the step's `headers`: masked values sent back unchanged keep the stored secret. */
  values(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of this.rows) {
      const name = r.name.value.trim();
      if (name === '') continue;
      out[name] = r.masked ?? r.value.value;
    }
    return out;
  }

  /** Checks names as typed: a token, not given twice, and a value for each name. */
  private validate(): void {
    const seen = new Set<string>();
    for (const r of this.rows) {
      const name = r.name.value.trim();
      let problem = '';
      if (name === '' && (r.value.value !== '' || r.masked !== undefined))
        problem = 'Give the header a name.';
      else if (name !== '' && !TOKEN.test(name))
        problem = 'A header name has letters, digits and - only (no spaces or colons).';
      else if (name !== '' && seen.has(name.toLowerCase())) problem = `The header ${name} is given twice.`;
      else if (name !== '' && r.masked === undefined && r.value.value === '') problem = 'Enter a value.';
      if (name !== '') seen.add(name.toLowerCase());
      r.message.textContent = problem;
      r.name.setAttribute('aria-invalid', problem && problem !== 'Enter a value.' ? 'true' : 'false');
    }
    this.general.textContent = '';
  }

  /** The last save's problems with headers (`name` empty: about the headers as a whole). */
  showProblems(problems: { name: string; message: string }[]): void {
    this.validate();
    const general: string[] = [];
    for (const p of problems) {
      const row = this.rows.find((r) => r.name.value.trim().toLowerCase() === p.name.toLowerCase());
      if (row && p.name !== '') row.message.textContent = p.message;
      else general.push(p.name ? `${p.name}: ${p.message}` : p.message);
    }
    this.general.textContent = general.join(' ');
  }
}
