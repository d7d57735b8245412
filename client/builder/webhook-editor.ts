import { api, ApiError } from '../lib/http';
import { h } from '../lib/dom';
import type { MountWebhookEditor, StepCheck, StepProblem, WebhookStepDraft } from './types';

interface Variable {
  path: string;
  source: string;
  example: unknown;
}
interface Preview {
  body: string;
  valid: boolean;
  error?: { message: string; line?: number; column?: number };
}

const VARIABLES_TITLE: Record<string, string> = {
  list: 'View profile properties',
  segment: 'View profile properties',
  date: 'View profile properties',
  metric: 'View profile and event variables',
  price_drop: 'View profile and event variables',
};

/**
 * The webhook step's settings: URL, headers, body, variables and preview. This is the builder
 * branch's plain version (the body in a textarea); the editor branch brings CodeMirror 6 under the
 * same test ids and contract.
 */
export const mountWebhookEditor: MountWebhookEditor = (container, opts) => {
  const step: WebhookStepDraft = { ...opts.step, headers: { ...opts.step.headers } };
  let saved = opts.saved;
  let unlocked = false;
  const disabled = opts.readOnly;

  /** The first edit of URL, headers or body waits for two-step authentication (the builder's modal). */
  async function mayEdit(): Promise<boolean> {
    if (unlocked) return true;
    unlocked = await opts.requireTwoStep();
    return unlocked;
  }
  const changed = () => opts.onChange({ ...step, headers: { ...step.headers } });

  const urlInput = h('input', {
    id: `webhook-url-${step.id}`,
    type: 'url',
    'data-testid': 'webhook-url',
    value: step.url,
    placeholder: 'https://example.com/hooks/orders',
    autocomplete: 'off',
    disabled,
  });
  const urlCheck = h('p', { class: 'field-note', 'data-testid': 'url-check', 'aria-live': 'polite' });
  const checkUrlAsTyped = () => {
    const v = urlInput.value.trim();
    urlCheck.className = 'field-note';
    if (!v) return (urlCheck.textContent = '');
    try {
      const u = new URL(v);
      if (u.protocol !== 'https:') {
        urlCheck.textContent = 'Webhook URLs must start with https://';
        urlCheck.className = 'field-note bad';
      } else urlCheck.textContent = `Will POST to ${u.host}`;
    } catch {
      urlCheck.textContent = 'This is not a valid URL yet';
      urlCheck.className = 'field-note bad';
    }
  };
  checkUrlAsTyped();
  let urlBefore = step.url;
  urlInput.addEventListener('input', () => {
    void (async () => {
      const value = urlInput.value;
      if (!(await mayEdit())) {
        urlInput.value = urlBefore;
        return;
      }
      urlInput.value = value;
      urlBefore = value;
      step.url = value.trim();
      checkUrlAsTyped();
      changed();
    })();
  });

  const headerRows = h('div', { class: 'header-rows' });
  /** Rows as typed; the step's headers are rebuilt from them on each change. */
  const rows: { name: HTMLInputElement; value: HTMLInputElement; row: HTMLElement }[] = [];
  const syncHeaders = () => {
    step.headers = {};
    for (const r of rows) if (r.name.value.trim()) step.headers[r.name.value.trim()] = r.value.value;
    changed();
  };
  const addRow = (name: string, value: string) => {
    const n = rows.length;
    const nameInput = h('input', {
      'data-testid': 'header-name',
      'aria-label': `Header ${n + 1} name`,
      value: name,
      placeholder: 'X-Api-Key',
      disabled,
    });
    const valueInput = h('input', {
      'data-testid': 'header-value',
      'aria-label': `Header ${n + 1} value`,
      value,
      placeholder: 'value',
      disabled,
    });
    const row = h('div', { class: 'header-row' }, nameInput, valueInput);
    const entry = { name: nameInput, value: valueInput, row };
    const remove = h(
      'button',
      {
        type: 'button',
        'aria-label': `Remove header ${n + 1}`,
        disabled,
        onclick: () =>
          void mayEdit().then((ok) => {
            if (!ok) return;
            rows.splice(rows.indexOf(entry), 1);
            row.remove();
            syncHeaders();
          }),
      },
      '×',
    );
    row.append(remove);
    for (const input of [nameInput, valueInput]) {
      let before = input.value;
      input.addEventListener('input', () => {
        void (async () => {
          const v = input.value;
          if (!(await mayEdit())) return void (input.value = before);
          input.value = v;
          before = v;
          syncHeaders();
        })();
      });
    }
    rows.push(entry);
    headerRows.append(row);
    return entry;
  };
  for (const [k, v] of Object.entries(step.headers)) addRow(k, v);
  const addHeader = h(
    'button',
    {
      type: 'button',
      'data-testid': 'add-header',
      disabled,
      onclick: () =>
        void mayEdit().then((ok) => {
          if (ok) addRow('', '').name.focus();
        }),
    },
    '+ Add Headers',
  );

  const bodyArea = h('textarea', {
    id: `webhook-body-${step.id}`,
    rows: 10,
    spellcheck: 'false',
    class: 'code',
    disabled,
  });
  bodyArea.value = step.body;
  let bodyBefore = step.body;
  bodyArea.addEventListener('input', () => {
    void (async () => {
      const v = bodyArea.value;
      if (!(await mayEdit())) return void (bodyArea.value = bodyBefore);
      bodyArea.value = v;
      bodyBefore = v;
      step.body = v;
      changed();
    })();
  });
  const bodyProblems = h('ul', { class: 'problems', 'data-testid': 'body-problems' });

  const insertVariable = async (path: string) => {
    if (disabled || !(await mayEdit())) return;
    const start = bodyArea.selectionStart;
    const end = bodyArea.selectionEnd;
    bodyArea.setRangeText(path, start, end, 'end');
    bodyBefore = bodyArea.value;
    step.body = bodyArea.value;
    bodyArea.focus();
    changed();
  };
  const search = h('input', { type: 'search', 'aria-label': 'Search variables', placeholder: 'Search' });
  const varList = h('ul', { class: 'variables' });
  let variables: Variable[] = [];
  const drawVariables = () => {
    const q = search.value.trim().toLowerCase();
    varList.replaceChildren(
      ...variables
        .filter((v) => !q || v.path.toLowerCase().includes(q))
        .map((v) =>
          h(
            'li',
            {},
            h(
              'button',
              {
                type: 'button',
                'data-testid': 'variable',
                'data-path': v.path,
                disabled,
                onclick: () => void insertVariable(v.path),
              },
              h('code', {}, v.path),
            ),
            ' ',
            h('span', { class: 'example' }, JSON.stringify(v.example) ?? ''),
          ),
        ),
    );
  };
  search.addEventListener('input', drawVariables);
  const variablesPanel = h(
    'details',
    { class: 'variables-panel', 'data-testid': 'variables-panel' },
    h('summary', {}, VARIABLES_TITLE[opts.triggerType] ?? 'View variables'),
    search,
    varList,
  );
  variablesPanel.addEventListener('toggle', () => {
    if (!variablesPanel.open || variables.length) return;
    api<{ variables: Variable[] }>('GET', `/api/flows/${encodeURIComponent(opts.flowId)}/variables`)
      .then((r) => {
        variables = r.variables;
        drawVariables();
      })
      .catch((e: unknown) => varList.replaceChildren(h('li', {}, e instanceof Error ? e.message : 'failed')));
  });

  const previewOutput = h('pre', {
    class: 'excerpt',
    'data-testid': 'preview-output',
    'aria-live': 'polite',
  });
  const previewButton = h(
    'button',
    {
      type: 'button',
      'data-testid': 'preview-button',
      onclick: () => {
        if (!saved) {
          previewOutput.textContent = 'Save the flow first: the preview renders the saved body.';
          return;
        }
        api<Preview>(
          'POST',
          `/api/flows/${encodeURIComponent(opts.flowId)}/steps/${encodeURIComponent(step.id)}/preview`,
          {},
        )
          .then((p) => {
            let text = p.body;
            if (p.valid) {
              try {
                text = JSON.stringify(JSON.parse(p.body), null, 2);
              } catch {
                // valid says it parses; keep the raw text if it does not.
              }
            }
            previewOutput.textContent = p.valid ? text : `${p.error?.message ?? 'not valid JSON'}\n${p.body}`;
          })
          .catch(
            (e: unknown) => (previewOutput.textContent = e instanceof ApiError ? e.describe() : String(e)),
          );
      },
    },
    'Preview',
  );

  container.replaceChildren(
    h('h2', {}, 'Webhook'),
    h('label', { for: urlInput.id }, 'URL'),
    urlInput,
    urlCheck,
    h('h3', {}, 'Headers'),
    headerRows,
    addHeader,
    h('h3', { id: `body-label-${step.id}` }, h('label', { for: bodyArea.id }, 'Body (JSON template)')),
    h('div', { 'data-testid': 'webhook-body', class: 'body-box' }, bodyArea),
    bodyProblems,
    variablesPanel,
    h('div', { class: 'preview' }, previewButton, previewOutput),
  );

  return {
    showSaveResult(check: StepCheck | undefined, problems: StepProblem[]) {
      const urlProblems = problems.filter((p) => p.path === 'url');
      const lines = [
        ...urlProblems.map((p) => p.message),
        ...(check?.error && !urlProblems.length ? [check.error] : []),
        ...(check?.warnings ?? []),
      ];
      if (lines.length) {
        urlCheck.textContent = lines.join(' · ');
        urlCheck.className = `field-note ${check?.ok === false || urlProblems.length ? 'bad' : 'warn'}`;
      } else if (check?.live && check.ok) {
        urlCheck.textContent = 'Checked: the endpoint answered over a trusted HTTPS connection.';
        urlCheck.className = 'field-note ok';
      } else checkUrlAsTyped();
      bodyProblems.replaceChildren(
        ...problems
          .filter((p) => p.path !== 'url')
          .map((p) =>
            h(
              'li',
              {},
              `${p.path}${p.line ? ` (line ${p.line}, column ${p.column ?? 1})` : ''}: ${p.message}`,
            ),
          ),
      );
    },
    markSaved(s: WebhookStepDraft) {
      saved = true;
      Object.assign(step, s);
    },
    destroy() {
      container.replaceChildren();
    },
  };
};
