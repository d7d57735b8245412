import { ApiError, api } from '../lib/http';
import { h } from '../lib/dom';
import type { PinnedProblem } from './body-editor';
import { BodyEditor } from './body-editor';
import { HeaderRows } from './header-rows';
import type { Sample } from './sample-picker';
import { SamplePicker } from './sample-picker';
import { TwoStepGate } from './two-step-gate';
import type {
  FlowView,
  MountWebhookEditor,
  RetryOverride,
  StepCheck,
  StepProblem,
  WebhookEditorHandle,
  WebhookEditorOptions,
  WebhookStepDraft,
} from './types';
import type { Variable } from './variables-panel';
import { VariablesPanel } from './variables-panel';
import type { LimitField } from './webhook-checks';
import { LIMIT_FIELDS, RETRY_FIELDS, parseRetryValue, retryCrossProblem, urlProblem } from './webhook-checks';
import { injectWebhookEditorStyle } from './webhook-editor-style';

/** What preview answers (src/flows/step-tools.ts PreviewResult). */
interface PreviewAnswer {
  body: string;
  valid: boolean;
  error?: { message: string; line?: number; column?: number; excerpt?: string };
  contextSource: string;
}

/** What a test send answers (src/flows/step-tools.ts TestSendResult). */
interface TestAnswer {
  sent: boolean;
  class: string;
  reason: string;
  httpStatus?: number;
  latencyMs?: number;
  responseExcerpt?: string;
}

/** A price drop's audience as event names, as src/flows/price-drop.ts names them (the server checks the choice). */
const PRICE_DROP_METRICS: Record<string, string> = {
  viewed: 'Viewed Product',
  started_checkout: 'Started Checkout',
};

let mounted = 0;

const describeError = (err: unknown): string =>
  err instanceof ApiError ? err.describe() : err instanceof Error ? err.message : 'the request failed';

/**
 * The webhook action's settings (issue 13, section 2): URL, headers, body, variables, sample,
 * preview and test send, retries. The builder owns the draft: every change goes to `onChange`, and
 * the builder saves and hands the result back through the handle.
 */
class WebhookEditor implements WebhookEditorHandle {
  private readonly id = `wh${++mounted}`;
  private readonly root: HTMLElement;
  private readonly gate: TwoStepGate;
  private step: WebhookStepDraft;
  private saved: boolean;
  /** The step as last saved, for telling the user a test sends the saved version. */
  private savedStep: WebhookStepDraft | undefined;
  private readonly url: HTMLInputElement;
  private readonly urlMessage: HTMLElement;
  private readonly urlCheck: HTMLElement;
  private readonly urlSaved: HTMLElement;
  private readonly headers: HeaderRows;
  private readonly body: BodyEditor;
  private readonly bodyProblems: HTMLUListElement;
  private readonly variables: VariablesPanel;
  private readonly sample: SamplePicker;
  private readonly previewButton: HTMLButtonElement;
  private readonly previewStatus: HTMLElement;
  private readonly previewOutput: HTMLPreElement;
  private readonly testButton: HTMLButtonElement;
  private readonly testResult: HTMLElement;
  private readonly retryInputs = new Map<keyof RetryOverride, HTMLInputElement>();
  private readonly limitInputs = new Map<LimitField['key'], HTMLInputElement>();
  private readonly limitsMessage: HTMLElement;
  private readonly retryMessage: HTMLElement;
  private readonly signing: HTMLInputElement;
  private readonly rotateButton: HTMLButtonElement;
  private readonly rotated: HTMLElement;
  private readonly otherProblems: HTMLUListElement;
  private saveProblems: PinnedProblem[] = [];
  private previewProblems: PinnedProblem[] = [];
  private flow: Promise<FlowView> | undefined;

  constructor(
    private readonly container: HTMLElement,
    private readonly opts: WebhookEditorOptions,
  ) {
    injectWebhookEditorStyle(container.ownerDocument);
    this.step = structuredClone(opts.step);
    this.saved = opts.saved;
    this.savedStep = opts.saved ? structuredClone(opts.step) : undefined;
    this.gate = new TwoStepGate(() => opts.requireTwoStep());
    const ro = opts.readOnly;
    const p = this.id;

    // URL
    this.urlMessage = h('p', {
      id: `${p}-url-msg`,
      class: 'wh-msg wh-bad',
      'data-testid': 'url-message',
      'aria-live': 'polite',
    });
    this.urlSaved = h('div', { id: `${p}-url-saved`, 'data-testid': 'url-save-check' });
    // Beside the field: what is wrong as typed, then what the last save's check found.
    this.urlCheck = h(
      'div',
      { id: `${p}-url-check`, 'data-testid': 'url-check', 'aria-live': 'polite' },
      this.urlMessage,
      this.urlSaved,
    );
    this.url = h('input', {
      id: `${p}-url`,
      type: 'url',
      inputmode: 'url',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'https://hooks.example.com/orders',
      'data-testid': 'webhook-url',
      'aria-describedby': `${p}-url-check`,
      disabled: ro,
      oninput: () => {
        // The last save's check was about the URL as it was then.
        this.urlSaved.replaceChildren();
        this.checkUrl();
        this.edited(true);
      },
    });
    this.url.value = this.step.url;

    // Signing: a step not saved yet has no `signing` and signs by default, as the server does.
    this.signing = h('input', {
      id: `${p}-signing`,
      type: 'checkbox',
      'data-testid': 'webhook-signing',
      'aria-describedby': `${p}-signing-help`,
      disabled: ro,
      onchange: () => this.edited(true),
    });
    this.signing.checked = this.step.signing !== false;
    this.rotateButton = h(
      'button',
      { type: 'button', 'data-testid': 'signing-rotate', onclick: () => void this.rotate() },
      'Rotate secret',
    );
    this.rotateButton.hidden = ro || !this.savedStep?.signing;
    this.rotated = h('div', { 'data-testid': 'signing-rotated', role: 'status', class: 'wh-msg' });

    // Headers
    this.headers = new HeaderRows({
      idPrefix: p,
      readOnly: ro,
      headers: this.step.headers,
      onEdit: () => this.edited(true),
    });

    // Body
    const bodyHost = h('div', { 'data-testid': 'webhook-body', class: 'wh-body' });
    this.bodyProblems = h('ul', {
      id: `${p}-body-problems`,
      class: 'wh-problems',
      'data-testid': 'body-problems',
      'aria-live': 'polite',
    });
    this.body = new BodyEditor(bodyHost, {
      doc: this.step.body,
      readOnly: ro,
      label: 'Body (JSON template)',
      describedBy: `${p}-body-help ${p}-body-problems`,
      completions: () => this.variables.completions(),
      onEdit: () => this.edited(true),
    });

    // Variables and sample
    this.variables = new VariablesPanel({
      idPrefix: p,
      triggerType: opts.triggerType,
      onInsert: (path) => {
        if (this.opts.readOnly) return;
        this.body.insertAtCursor(path);
      },
    });
    this.sample = new SamplePicker({
      idPrefix: p,
      rememberAs: opts.flowId,
      triggerType: opts.triggerType,
      metrics: () => this.sampleMetrics(),
      onChange: (s) => this.variables.setSample(this.sampleValues(s)),
    });

    // Preview and test send
    this.previewStatus = h('p', { class: 'wh-msg', role: 'status', 'data-testid': 'preview-status' });
    this.previewOutput = h('pre', {
      class: 'wh-output',
      'data-testid': 'preview-output',
      tabindex: '0',
      'aria-label': 'Rendered body',
    });
    this.previewButton = h(
      'button',
      { type: 'button', 'data-testid': 'preview-button', onclick: () => void this.preview() },
      'Preview',
    );
    this.testButton = h(
      'button',
      { type: 'button', 'data-testid': 'test-send-button', onclick: () => void this.testSend() },
      'Send test',
    );
    this.testResult = h('div', { 'data-testid': 'test-send-result', role: 'status', class: 'wh-msg' });

    // Advanced
    this.retryMessage = h('p', {
      class: 'wh-msg wh-bad',
      'data-testid': 'retry-message',
      'aria-live': 'polite',
    });
    const retryFields = RETRY_FIELDS.map((f) =>
      this.numberField(`${p}-retry-${f.key}`, `retry-${f.key}`, f, this.step.retry?.[f.key], ro, (input) =>
        this.retryInputs.set(f.key, input),
      ),
    );
    this.limitsMessage = h('p', {
      class: 'wh-msg wh-bad',
      'data-testid': 'limits-message',
      'aria-live': 'polite',
    });
    const limitFields = LIMIT_FIELDS.map((f) =>
      this.numberField(`${p}-limits-${f.key}`, `limits-${f.key}`, f, this.step.limits?.[f.key], ro, (input) =>
        this.limitInputs.set(f.key, input),
      ),
    );
    this.otherProblems = h('ul', {
      class: 'wh-problems',
      'data-testid': 'step-problems',
      'aria-live': 'polite',
    });

    this.root = h(
      'div',
      { class: 'wh-editor', 'data-testid': 'webhook-editor' },
      ro
        ? h(
            'p',
            { class: 'wh-muted', 'data-testid': 'webhook-readonly' },
            'Read-only: you can look and preview, not change.',
          )
        : null,
      h('section', {}, h('label', { for: this.url.id, class: 'wh-label' }, 'URL'), this.url, this.urlCheck),
      h(
        'section',
        {},
        h('label', { for: this.signing.id }, this.signing, ' Sign requests (Standard Webhooks)'),
        h(
          'p',
          { id: `${p}-signing-help`, class: 'wh-muted', 'data-testid': 'signing-help' },
          'Adds webhook-id, webhook-timestamp and webhook-signature headers so the endpoint can verify the request. ',
          this.step.signing && this.step.signingSecret
            ? `Secret: ${this.step.signingSecret} (shown in full once, after the save that created it).`
            : 'The secret is shown once, after the save that creates it.',
        ),
        this.rotateButton,
        this.rotated,
      ),
      this.headers.element,
      h(
        'section',
        {},
        h('label', { class: 'wh-label', id: `${p}-body-label`, onclick: () => this.body.focus() }, 'Body'),
        h(
          'p',
          { id: `${p}-body-help`, class: 'wh-muted' },
          'JSON with template tags: {{ person.email }}, {% if … %}…{% endif %}. Ctrl+Space after {{ lists the variables. Press Escape, then Tab, to leave the editor.',
        ),
        bodyHost,
        this.bodyProblems,
      ),
      this.variables.element,
      this.sample.element,
      h(
        'section',
        { 'aria-labelledby': `${p}-try-title` },
        h('h4', { id: `${p}-try-title` }, 'Preview and test'),
        h('div', { class: 'wh-actions' }, this.previewButton, this.testButton),
        this.previewStatus,
        this.previewOutput,
        this.testResult,
      ),
      h(
        'details',
        { 'data-testid': 'webhook-advanced' },
        h('summary', {}, 'Advanced: retries and endpoint limits'),
        h(
          'p',
          { class: 'wh-muted' },
          'Leave a field empty for the default (18 attempts over about 24 hours).',
        ),
        h('div', { class: 'wh-retry' }, ...retryFields),
        this.retryMessage,
        h(
          'p',
          { class: 'wh-muted' },
          'Endpoint limits: leave empty for the defaults (32 at once, 100 per second). Requests over them wait; none fails.',
        ),
        h('div', { class: 'wh-retry', 'data-testid': 'webhook-limits' }, ...limitFields),
        this.limitsMessage,
      ),
      this.otherProblems,
    );
    container.replaceChildren(this.root);
    this.checkUrl();
    this.refreshTestButton();
    void this.loadVariables();
    this.sample.restore();
  }

  // --- editing ---------------------------------------------------------------------------------

  /** After any edit: guarded edits (URL, headers, body) wait for two-step; each accepted change goes to the builder. */
  /** One labelled number field of the Advanced section (retries, limits), empty meaning "default". */
  private numberField(
    id: string,
    testId: string,
    f: { label: string; hint: string; min: number; max: number; integer: boolean },
    value: number | undefined,
    ro: boolean,
    keep: (input: HTMLInputElement) => void,
  ): HTMLElement {
    const input = h('input', {
      id,
      type: 'number',
      inputmode: f.integer ? 'numeric' : 'decimal',
      min: f.min,
      max: f.max,
      step: f.integer ? 1 : 'any',
      placeholder: 'default',
      'data-testid': testId,
      'aria-describedby': `${id}-hint`,
      disabled: ro,
      oninput: () => this.edited(false),
    });
    if (value !== undefined) input.value = String(value);
    keep(input);
    return h(
      'div',
      {},
      h('label', { for: id, class: 'wh-label' }, f.label),
      input,
      h('p', { id: `${id}-hint`, class: 'wh-muted' }, f.hint),
    );
  }

  private edited(guarded: boolean): void {
    if ((guarded && !this.gate.ok) || this.gate.pending) {
      void this.gate.check().then((ok) => (ok ? this.emit() : this.revert()));
      return;
    }
    this.emit();
  }

  private emit(): void {
    this.step = this.collect();
    this.refreshTestButton();
    this.opts.onChange(structuredClone(this.step));
  }

  /** Puts the last accepted draft back: the edit the viewer may not make is not applied. */
  private revert(): void {
    this.url.value = this.step.url;
    this.checkUrl();
    this.signing.checked = this.step.signing !== false;
    this.headers.reset(this.step.headers);
    if (this.body.doc !== this.step.body) this.body.replace(this.step.body);
    const active = this.container.ownerDocument.activeElement;
    if (active instanceof HTMLElement && this.root.contains(active)) active.blur();
  }

  private collect(): WebhookStepDraft {
    const next: WebhookStepDraft = {
      ...this.step,
      url: this.url.value.trim(),
      headers: this.headers.values(),
      body: this.body.doc,
      signing: this.signing.checked,
    };
    const retry = this.readRetry();
    if (retry) next.retry = retry;
    else delete next.retry;
    const limits = this.readLimits();
    if (limits) next.limits = limits;
    else delete next.limits;
    return next;
  }

  private checkUrl(): void {
    const problem =
      this.url.value === '' && !this.url.matches(':focus') ? undefined : urlProblem(this.url.value);
    this.urlMessage.textContent = problem ?? '';
    this.url.setAttribute('aria-invalid', problem ? 'true' : 'false');
  }

  /** The endpoint limits typed, checked as typed; undefined when none is set. */
  private readLimits(): WebhookStepDraft['limits'] {
    const out: NonNullable<WebhookStepDraft['limits']> = {};
    const problems: string[] = [];
    for (const f of LIMIT_FIELDS) {
      const input = this.limitInputs.get(f.key)!;
      const r = parseRetryValue(f, input.value);
      input.setAttribute('aria-invalid', r.problem ? 'true' : 'false');
      if (r.problem) problems.push(`${f.label} ${r.problem}.`);
      else if (r.value !== undefined) out[f.key] = r.value;
    }
    this.limitsMessage.textContent = problems.join(' ');
    return Object.keys(out).length > 0 ? out : undefined;
  }

  /** The retry settings typed, checked as typed; undefined when none is set. */
  private readRetry(): RetryOverride | undefined {
    const out: RetryOverride = {};
    const problems: string[] = [];
    for (const f of RETRY_FIELDS) {
      const input = this.retryInputs.get(f.key)!;
      const r = parseRetryValue(f, input.value);
      input.setAttribute('aria-invalid', r.problem ? 'true' : 'false');
      if (r.problem) problems.push(`${f.label} ${r.problem}.`);
      else if (r.value !== undefined) out[f.key] = r.value;
    }
    const cross = retryCrossProblem(out);
    if (cross) problems.push(cross);
    this.retryMessage.textContent = problems.join(' ');
    return Object.keys(out).length > 0 ? out : undefined;
  }

  // --- variables and sample --------------------------------------------------------------------

  private async loadVariables(): Promise<void> {
    try {
      const { variables } = await api<{ variables: Variable[] }>(
        'GET',
        `/api/flows/${encodeURIComponent(this.opts.flowId)}/variables`,
      );
      this.variables.setVariables(variables);
    } catch (err) {
      this.variables.setError(`The variables could not be loaded: ${describeError(err)}`);
    }
  }

  private savedFlow(): Promise<FlowView> {
    this.flow ??= api<FlowView>('GET', `/api/flows/${encodeURIComponent(this.opts.flowId)}`);
    return this.flow;
  }

  /** Which events may be the sample: the saved trigger's metric, or the price drop's audience metrics. */
  private async sampleMetrics(): Promise<string[]> {
    const { trigger } = await this.savedFlow();
    if (trigger.type === 'metric' && typeof trigger.metric === 'string') return [trigger.metric];
    if (trigger.type === 'price_drop') {
      const audience = Array.isArray(trigger.audience)
        ? (trigger.audience as string[])
        : ['viewed', 'started_checkout'];
      return audience.map((a) => PRICE_DROP_METRICS[a]).filter((m): m is string => m !== undefined);
    }
    return [];
  }

  private sampleValues(s: Sample): { profile?: Record<string, unknown>; event?: Record<string, unknown> } {
    const out: { profile?: Record<string, unknown>; event?: Record<string, unknown> } = {};
    if (s.profile) out.profile = s.profile;
    // A price drop's event is the drop, not the viewed product: its values come from the preview.
    if (s.event && this.opts.triggerType === 'metric') out.event = s.event.properties;
    return out;
  }

  private sampleIds(): { profileId?: string; eventId?: string } {
    const s = this.sample.current;
    const out: { profileId?: string; eventId?: string } = {};
    if (s.profile) out.profileId = s.profile.id;
    if (s.event) out.eventId = s.event.id;
    return out;
  }

  // --- preview and test send -------------------------------------------------------------------

  private async preview(): Promise<void> {
    const flow = encodeURIComponent(this.opts.flowId);
    const url = this.saved
      ? `/api/flows/${flow}/steps/${encodeURIComponent(this.step.id)}/preview`
      : `/api/flows/${flow}/preview`;
    this.previewButton.disabled = true;
    this.previewStatus.className = 'wh-msg';
    this.previewStatus.textContent = 'Rendering…';
    try {
      const r = await api<PreviewAnswer>('POST', url, { body: this.body.doc, ...this.sampleIds() });
      if (r.valid) {
        this.previewProblems = [];
        this.previewStatus.textContent = `Rendered with ${describeSource(r.contextSource)}.`;
        this.previewOutput.textContent = pretty(r.body);
      } else {
        const e = r.error ?? { message: 'the body could not be rendered' };
        this.previewProblems =
          e.line !== undefined ? [{ message: e.message, line: e.line, column: e.column }] : [];
        this.previewStatus.className = 'wh-msg wh-bad';
        this.previewStatus.textContent = e.message;
        this.previewOutput.textContent = e.excerpt ?? r.body;
      }
    } catch (err) {
      this.previewStatus.className = 'wh-msg wh-bad';
      this.previewStatus.textContent = `Preview failed: ${describeError(err)}`;
      this.previewOutput.textContent = '';
    } finally {
      this.previewButton.disabled = false;
      this.pin();
    }
  }

  private refreshTestButton(): void {
    const may = this.saved && !this.opts.readOnly;
    this.testButton.disabled = !may;
    if (!this.saved) this.testResult.textContent = 'Save the flow to send a test.';
    else if (this.opts.readOnly)
      this.testResult.textContent = 'Test sends need a role that may change webhooks.';
    else if (this.testResult.dataset.sent !== 'true') {
      this.testResult.textContent = this.differsFromSaved()
        ? 'A test sends the saved step: save to test your changes.'
        : '';
    }
  }

  private differsFromSaved(): boolean {
    const s = this.savedStep;
    return (
      !!s &&
      (s.url !== this.step.url ||
        s.body !== this.step.body ||
        JSON.stringify(s.headers) !== JSON.stringify(this.step.headers))
    );
  }

  private async testSend(): Promise<void> {
    if (!this.saved) {
      this.testResult.textContent = 'Save the flow to send a test.';
      return;
    }
    const path = `/api/flows/${encodeURIComponent(this.opts.flowId)}/steps/${encodeURIComponent(this.step.id)}/test`;
    this.testButton.disabled = true;
    this.testResult.dataset.sent = 'true';
    this.testResult.className = 'wh-msg';
    this.testResult.textContent = 'Sending…';
    try {
      const r = await api<TestAnswer>('POST', path, this.sampleIds());
      const parts = [
        r.httpStatus !== undefined ? `HTTP ${r.httpStatus}` : 'No response',
        r.latencyMs !== undefined ? `${Math.round(r.latencyMs)} ms` : null,
        r.reason,
      ].filter((x): x is string => !!x);
      const ok = r.class === 'delivered';
      this.testResult.className = `wh-msg ${ok ? 'wh-ok' : 'wh-bad'}`;
      const shown: HTMLElement[] = [h('p', { 'data-testid': 'test-send-summary' }, parts.join(' · '))];
      if (r.responseExcerpt) {
        shown.push(h('pre', { class: 'wh-output', 'data-testid': 'test-send-excerpt' }, r.responseExcerpt));
      }
      if (this.differsFromSaved()) {
        shown.push(
          h('p', { class: 'wh-muted' }, 'This was the saved step; your unsaved changes were not sent.'),
        );
      }
      this.testResult.replaceChildren(...shown);
    } catch (err) {
      this.testResult.className = 'wh-msg wh-bad';
      this.testResult.textContent = `Test send failed: ${describeError(err)}`;
    } finally {
      this.testButton.disabled = !this.saved || this.opts.readOnly;
    }
  }

  // --- the builder's calls ---------------------------------------------------------------------

  private pin(): void {
    const all = [...this.saveProblems, ...this.previewProblems];
    this.body.pin(all);
    this.bodyProblems.replaceChildren(
      ...all.map((x) =>
        h(
          'li',
          {},
          x.line !== undefined
            ? `Line ${x.line}${x.column !== undefined ? `, column ${x.column}` : ''}: ${x.message}`
            : x.message,
        ),
      ),
    );
  }

  showSaveResult(check: StepCheck | undefined, problems: StepProblem[]): void {
    const items: HTMLLIElement[] = [];
    for (const x of problems.filter((q) => q.path === 'url'))
      items.push(h('li', { class: 'wh-bad' }, x.message));
    if (check?.error) items.push(h('li', { class: 'wh-bad', 'data-testid': 'url-check-error' }, check.error));
    for (const w of check?.warnings ?? [])
      items.push(h('li', { class: 'wh-warn', 'data-testid': 'url-check-warning' }, w));
    if (check?.ok && check.live && items.length === 0) {
      items.push(h('li', { class: 'wh-ok' }, 'The endpoint passed the live check.'));
    }
    this.urlSaved.replaceChildren(items.length ? h('ul', { class: 'wh-check' }, ...items) : '');
    this.url.setAttribute(
      'aria-invalid',
      check?.error || items.some((i) => i.classList.contains('wh-bad')) ? 'true' : 'false',
    );

    this.saveProblems = problems
      .filter((q) => q.path === 'body')
      .map((q) => ({ message: q.message, line: q.line, column: q.column }));
    this.previewProblems = [];
    this.pin();

    const headerProblems = problems.filter((q) => q.path.startsWith('headers'));
    this.headers.showProblems(
      headerProblems.map((q) => ({ name: q.path.replace(/^headers\.?/, ''), message: q.message })),
    );

    const retry = problems.filter((q) => q.path.startsWith('retry'));
    if (retry.length) this.retryMessage.textContent = retry.map((q) => `${q.path}: ${q.message}`).join(' ');
    const limits = problems.filter((q) => q.path.startsWith('limits'));
    if (limits.length)
      this.limitsMessage.textContent = limits.map((q) => `${q.path}: ${q.message}`).join(' ');
    const known = (q: StepProblem) =>
      q.path === 'url' ||
      q.path === 'body' ||
      q.path.startsWith('headers') ||
      q.path.startsWith('retry') ||
      q.path.startsWith('limits');
    this.otherProblems.replaceChildren(
      ...problems.filter((q) => !known(q)).map((q) => h('li', {}, `${q.path}: ${q.message}`)),
    );
  }

  markSaved(step: WebhookStepDraft): void {
    this.saved = true;
    this.savedStep = structuredClone(step);
    this.step = structuredClone(step);
    if (this.url.value.trim() !== step.url) this.url.value = step.url;
    this.headers.reset(step.headers);
    if (this.body.doc !== step.body) this.body.replace(step.body);
    this.signing.checked = step.signing !== false;
    this.rotateButton.hidden = this.opts.readOnly || !step.signing;
    delete this.testResult.dataset.sent;
    this.refreshTestButton();
  }

  /**
   * A new signing secret for the saved step, shown here once; the old one keeps signing for the
   * grace period. A webhook change: it waits for two-step authentication like an edit.
   */
  private async rotate(): Promise<void> {
    if (!(await this.gate.check())) return;
    this.rotateButton.disabled = true;
    this.rotated.replaceChildren('Rotating…');
    try {
      const flowId = encodeURIComponent(this.opts.flowId);
      const r = await api<{ secret: string; previousValidUntil: string }>(
        'POST',
        `/api/flows/${flowId}/steps/${encodeURIComponent(this.step.id)}/signing-secret/rotate`,
      );
      this.rotated.dataset.state = 'rotated';
      this.rotated.replaceChildren(
        'New secret: ',
        h('code', { class: 'signing-secret' }, r.secret),
        ` — copy it into the endpoint now: it is shown only this once. The previous secret keeps signing until ${new Date(r.previousValidUntil).toLocaleString()}.`,
      );
    } catch (e) {
      this.rotated.dataset.state = 'failed';
      this.rotated.replaceChildren(`Not rotated: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.rotateButton.disabled = false;
    }
  }

  destroy(): void {
    this.body.destroy();
    this.root.remove();
  }
}

function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

function describeSource(source: string): string {
  switch (source) {
    case 'chosen':
      return 'the chosen sample';
    case 'request':
      return 'the data given';
    case 'recent_event':
      return 'the latest event of the trigger';
    case 'recent_profile':
      return 'the most recent profile';
    default:
      return 'sample data';
  }
}

export const mountWebhookEditor: MountWebhookEditor = (container, opts) => new WebhookEditor(container, opts);
