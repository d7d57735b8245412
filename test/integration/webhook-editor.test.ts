import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { ARTIFACTS, Stack } from '../harness/stack';
import { launchBrowser, signInThroughPage } from '../support/browser';
import { postEvent, uniqueMetric } from '../support/flows';

/**
 * The webhook action's settings panel in the builder (issue 13 §2), in Chromium against the real
 * stack and an HTTPS receiver: variables by trigger, search, insertion at the cursor, preview for a
 * chosen profile and event, a template error pinned to its line, test send, secret headers.
 */

interface PublicStep {
  id: string;
  headers: Record<string, string>;
}

let stack: Stack;
let receiver: Receiver;
let selfSigned: Receiver;
let browser: Browser;
let context: BrowserContext;
let page: Page;

const OLD_SECRET = 'Bearer sk_live_FIRST_SECRET_111111';
const KEPT_SECRET = 'kept_secret_value_222222';
const NEW_SECRET = 'Bearer sk_live_REPLACED_SECRET_333333';

async function savedHeaders(flowId: string): Promise<Record<string, string>> {
  const res = await stack.request<{ steps: PublicStep[] }>('GET', `/api/flows/${flowId}`);
  return res.body.steps[0]!.headers;
}

async function openStep(flowId: string, stepId: string): Promise<void> {
  await page.goto(`${stack.apiUrl}/flows/${flowId}`);
  await page.click(`[data-testid=step][data-step-id="${stepId}"] .step-open`);
  await page.locator('[data-testid=webhook-editor]').waitFor();
  await page.locator('[data-testid=variable]').first().waitFor();
}

/** The body as the editor holds it, line by line. */
async function editorText(): Promise<string> {
  return (await page.locator('[data-testid=webhook-body] .cm-line').allTextContents()).join('\n');
}

/** Puts the cursor at the end of line `n` (1-based) of the body. */
async function cursorAtEndOfLine(n: number): Promise<void> {
  await page.click('[data-testid=webhook-body] .cm-content');
  await page.keyboard.press('Control+Home');
  for (let i = 1; i < n; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
}

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  selfSigned = await Receiver.start(pki.selfSigned);
  stack = await Stack.start({ name: 'webhook-editor', caCert: pki.caCert });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.apiUrl });
  page = await context.newPage();
  const owner = stack.owner!;
  await signInThroughPage(page, stack.apiUrl, { ...owner, code: owner.recoveryCodes.shift()! }, '/webhooks');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await receiver?.close();
  await selfSigned?.close();
});

test('a list flow shows profile properties only, under the guide’s title, and search filters them', async () => {
  const list = await stack.request<{ id: string }>('POST', '/api/lists', { name: 'Newsletter' });
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'Welcome',
    trigger: { type: 'list', listId: list.body.id },
    status: 'draft',
    steps: [
      {
        id: 'welcome',
        type: 'webhook',
        url: receiver.url('/welcome'),
        body: '{"email": "{{ person.email }}"}',
      },
    ],
  });
  await openStep(flow.body.id, 'welcome');

  const panel = page.locator('[data-testid=variables-panel]');
  await expectText(panel.locator('[data-testid=variables-title]'), 'View profile properties');
  const paths = await panel
    .locator('[data-testid=variable]')
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-path')));
  expect(paths).toEqual(expect.arrayContaining(['{{ person.email }}', '{{ person.first_name }}']));
  expect(paths.filter((p) => p!.includes('event'))).toEqual([]);
  expect(await panel.locator('[data-testid=variable][data-source=event]').count()).toBe(0);

  await page.fill('[data-testid=variables-search]', 'first');
  await expectCount(panel.locator('[data-testid=variable]'), 1);
  expect(await panel.locator('[data-testid=variable]').getAttribute('data-path')).toBe(
    '{{ person.first_name }}',
  );
  await page.fill('[data-testid=variables-search]', 'nothing-like-this');
  await expectCount(panel.locator('[data-testid=variable]'), 0);
  await expectText(
    panel.locator('[data-testid=variables-status]'),
    'No variable matches "nothing-like-this".',
  );
});

describe('a metric flow', () => {
  let metric: string;
  let flowId: string;
  const eventIds: Record<number, string> = {};

  beforeAll(async () => {
    metric = uniqueMetric('Placed Order');
    for (const [value, time] of [
      [10, '2026-11-20T10:00:00Z'],
      [20, '2026-11-21T10:00:00Z'],
    ] as const) {
      await postEvent(stack, metric, {
        profile: { email: 'ada@example.com', first_name: 'Ada', properties: { loyalty_id: 'L-1' } },
        properties: { value, items: [{ name: 'Tea', price: 10 }] },
        unique_id: `editor-${value}`,
        time,
      });
    }
    const created = await stack.request<{ id: string }>('POST', '/api/flows', {
      name: 'Orders',
      trigger: { type: 'metric', metric },
      status: 'draft',
      steps: [
        {
          id: 'notify',
          type: 'webhook',
          url: receiver.url('/orders'),
          headers: { Authorization: OLD_SECRET, 'X-Kept': KEPT_SECRET },
          body: '{\n  "email": "{{ person.email }}"\n}',
        },
      ],
    });
    flowId = created.body.id;
    const pid = (
      await stack.request<{ profiles: { id: string }[] }>('GET', '/api/profiles?email=ada@example.com')
    ).body.profiles[0]!.id;
    const events = await stack.request<{ events: { id: string; properties: { value: number } }[] }>(
      'GET',
      `/api/profiles/${pid}/events?metric=${encodeURIComponent(metric)}`,
    );
    for (const e of events.body.events) eventIds[e.properties.value] = e.id;
    await openStep(flowId, 'notify');
  });

  test('the panel shows profile and event variables under the guide’s title', async () => {
    const panel = page.locator('[data-testid=variables-panel]');
    await expectText(panel.locator('[data-testid=variables-title]'), 'View profile and event variables');
    expect(await panel.locator('[data-testid=variable][data-path="{{ event.value }}"]').count()).toBe(1);
    expect(await panel.locator('[data-testid=variable][data-path="{{ person.loyalty_id }}"]').count()).toBe(
      1,
    );
    await page.fill('[data-testid=variables-search]', 'event.');
    const shown = await panel
      .locator('[data-testid=variable]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-path')));
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.every((p) => p!.startsWith('{{ event.'))).toBe(true);
    await page.fill('[data-testid=variables-search]', '');
  });

  test('a click inserts the variable at the cursor; the copy button copies it', async () => {
    await cursorAtEndOfLine(2);
    await page.keyboard.insertText(',\n  "name": "');
    await page.click('[data-testid=variable][data-path="{{ person.first_name }}"]');
    // The click hands the cursor back to the editor, right after what it inserted.
    await page.keyboard.insertText('",\n  "value": ');
    await page.click('[data-testid=variable][data-path="{{ event.value }}"]');
    expect(await editorText()).toBe(
      '{\n  "email": "{{ person.email }}",\n  "name": "{{ person.first_name }}",\n  "value": {{ event.value }}\n}',
    );
    await page
      .locator('[data-testid=variables-panel] li')
      .filter({ has: page.locator('[data-path="{{ person.email }}"]') })
      .locator('[data-testid=variable-copy]')
      .click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('{{ person.email }}');
  });

  test('keyboard: arrows move through the variables, Enter inserts at the cursor', async () => {
    const before = await editorText();
    await page.focus('[data-testid=variables-search]');
    await page.keyboard.press('ArrowDown');
    const active = () => page.evaluate(() => document.activeElement?.getAttribute('data-path'));
    expect(await active()).toBe('{{ person.id }}');
    await page.keyboard.press('ArrowDown');
    expect(await active()).toBe('{{ person.email }}');
    await page.keyboard.press('ArrowUp');
    expect(await active()).toBe('{{ person.id }}');
    await page.keyboard.press('Enter');
    // Inserted after `{{ event.value }}`, where the cursor was; the editor has the focus again.
    expect(await editorText()).toBe(before.replace('{{ event.value }}', '{{ event.value }}{{ person.id }}'));
    await page.keyboard.press('Control+z');
    expect(await editorText()).toBe(before);
  });

  test('preview renders the unsaved body for a chosen real profile and event, pretty-printed', async () => {
    await page.fill('[data-testid=sample-email]', 'ADA@example.com');
    await page.click('[data-testid=sample-find]');
    await expectText(page.locator('[data-testid=sample-status]'), /Using ada@example.com/);
    // The newest event is chosen first; pick the older one.
    await page
      .locator(`[data-testid=sample-event] option[value="${eventIds[20]}"]`)
      .waitFor({ state: 'attached' });
    expect(await page.inputValue('[data-testid=sample-event]')).toBe(eventIds[20]);
    await page.selectOption('[data-testid=sample-event]', eventIds[10]!);
    await expectText(
      page.locator('[data-testid=variable][data-path="{{ event.value }}"] [data-testid=variable-example]'),
      '10',
    );
    await page.click('[data-testid=preview-button]');
    await expectText(
      page.locator('[data-testid=preview-output]'),
      JSON.stringify({ email: 'ada@example.com', name: 'Ada', value: 10 }, null, 2),
    );
  });

  test('masked headers: a kept one is sent back unchanged, a replaced one is never shown', async () => {
    const before = await savedHeaders(flowId);
    const values = () =>
      page
        .locator('[data-testid=header-value]')
        .evaluateAll((els) =>
          els.map((e) => ({ type: (e as HTMLInputElement).type, value: (e as HTMLInputElement).value })),
        );
    expect(await values()).toEqual([
      { type: 'text', value: before.Authorization },
      { type: 'text', value: before['X-Kept'] },
    ]);
    expect(before.Authorization).toMatch(/^Bea••••[0-9a-f]{8}$/);

    await page.locator('[data-testid=header-row]').nth(0).locator('[data-testid=header-replace]').click();
    const replaced = page.locator('[data-testid=header-row]').nth(0).locator('[data-testid=header-value]');
    expect(await replaced.getAttribute('type')).toBe('password');
    await replaced.fill(NEW_SECRET);
    await page.click('[data-testid=save-flow]');
    await expectText(page.locator('[data-testid=save-status]'), /Saved/);

    const after = await savedHeaders(flowId);
    expect(after['X-Kept']).toBe(before['X-Kept']);
    expect(after.Authorization).not.toBe(before.Authorization);
    await page.locator('[data-testid=webhook-editor]').waitFor();
    expect(await values()).toEqual([
      { type: 'text', value: after.Authorization },
      { type: 'text', value: after['X-Kept'] },
    ]);
    const html = await page.content();
    for (const secret of [OLD_SECRET, KEPT_SECRET, NEW_SECRET]) expect(html).not.toContain(secret);
    const inputs = await page
      .locator('input')
      .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(inputs.join('\n')).not.toContain('REPLACED_SECRET');
  });

  test('test send posts the saved step for the chosen event and shows status, excerpt and time', async () => {
    receiver.script('/orders', { status: 201, body: '{"accepted": true}' });
    // The builder remounted the panel on save: the chosen sample comes back.
    await expectValue(page.locator('[data-testid=sample-event]'), eventIds[10]!);
    await page.click('[data-testid=test-send-button]');
    const result = page.locator('[data-testid=test-send-result]');
    await expectText(result, /HTTP 201 · \d+ ms/);
    await expectText(result.locator('[data-testid=test-send-excerpt]'), '{"accepted": true}');
    const [req] = receiver.received('/orders');
    expect(JSON.parse(req!.body)).toEqual({ email: 'ada@example.com', name: 'Ada', value: 10 });
    expect(req!.headers.authorization).toBe(NEW_SECRET);
    expect(req!.headers['x-kept']).toBe(KEPT_SECRET);
  });

  test('a template error is pinned to its line and column in the editor', async () => {
    await cursorAtEndOfLine(3);
    // Line 3 becomes `  "name": "{{ person.first_name|nosuchfilter }}",`.
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.insertText('|nosuchfilter');
    expect((await editorText()).split('\n')[2]).toBe('  "name": "{{ person.first_name|nosuchfilter }}",');
    await page.click('[data-testid=preview-button]');
    const problems = page.locator('[data-testid=body-problems]');
    await expectText(problems, /^Line 3, column \d+: template error: .*nosuchfilter/);
    await expectCount(
      page.locator('[data-testid=webhook-body] .cm-line').nth(2).locator('.cm-lintRange-error'),
      1,
    );
    expect(await page.locator('[data-testid=webhook-body] .cm-lint-marker-error').count()).toBe(1);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page
      .locator('[data-testid=variables-panel]')
      .screenshot({ path: path.join(ARTIFACTS, 'variables-panel.png') });
  });

  test('Ctrl+Space after {{ offers the variables with their sample values', async () => {
    await cursorAtEndOfLine(1);
    await page.keyboard.insertText('\n  "c": "{{ person.fir');
    await page.keyboard.press('Control+Space');
    const popup = page.locator('.cm-tooltip-autocomplete');
    await popup.waitFor();
    expect(await popup.innerText()).toContain('person.first_name');
    expect(await popup.innerText()).toContain('Ada');
    // CodeMirror ignores Enter for its first 75 ms (interactionDelay), so a fast typist's Enter stays a newline.
    await page.waitForTimeout(150);
    await page.keyboard.press('Enter');
    expect((await editorText()).split('\n')[1]).toBe('  "c": "{{ person.first_name');
  });
});

test('after Save: a template error pinned at its line, a self-signed endpoint described beside the URL', async () => {
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'Checks',
    trigger: { type: 'metric', metric: uniqueMetric('Checked') },
    status: 'draft',
    steps: [{ id: 'hook', type: 'webhook', url: receiver.url('/checks'), body: '{\n  "a": 1\n}' }],
  });
  await openStep(flow.body.id, 'hook');
  await cursorAtEndOfLine(2);
  await page.keyboard.insertText(',\n  "b": "{% nosuchtag %}"');
  await page.click('[data-testid=save-flow]');
  await expectText(page.locator('[data-testid=save-status]'), /Not saved/);
  await expectText(page.locator('[data-testid=body-problems]'), /^Line 3, column \d+: .*nosuchtag/);
  await expectCount(
    page.locator('[data-testid=webhook-body] .cm-line').nth(2).locator('.cm-lintRange-error'),
    1,
  );

  // Fixed body, a self-signed endpoint, and live: the check's description shows beside the URL.
  await page.click('[data-testid=webhook-body] .cm-content');
  await page.keyboard.press('Control+a');
  await page.keyboard.insertText('{\n  "a": 1\n}');
  await expectEditorText('{\n  "a": 1\n}');
  await page.fill('[data-testid=webhook-url]', selfSigned.url('/checks'));
  expect(await page.locator('[data-testid=url-message]').textContent()).toBe('');
  await page.selectOption('#flow-status', 'live');
  await page.click('[data-testid=save-flow]');
  await expectText(page.locator('[data-testid=url-check]'), /self-signed/);
  expect(await page.getAttribute('[data-testid=webhook-url]', 'aria-invalid')).toBe('true');
  const describedBy = (await page.getAttribute('[data-testid=webhook-url]', 'aria-describedby'))!.split(' ');
  const checkId = await page.getAttribute('[data-testid=url-check]', 'id');
  expect(describedBy).toContain(checkId);
  expect((await stack.request<{ status: string }>('GET', `/api/flows/${flow.body.id}`)).body.status).toBe(
    'draft',
  );

  // An http:// URL is refused as typed, before any save.
  await page.fill('[data-testid=webhook-url]', 'http://hooks.example.com/x');
  await expectText(page.locator('[data-testid=url-message]'), 'The URL must use https (got http).');
});

test('read-only for an analyst, at phone width: nothing editable, preview still works', async () => {
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'Read only',
    trigger: { type: 'metric', metric: uniqueMetric('ReadOnly') },
    status: 'draft',
    steps: [
      {
        id: 'hook',
        type: 'webhook',
        url: receiver.url('/ro'),
        headers: { 'X-Token': 'read_only_secret_value_1' },
        body: '{"a": {{ event.value|default:1 }}}',
      },
    ],
  });
  const email = 'analyst@example.com';
  const password = 'a long password for the analyst';
  const created = await stack.requestAs(stack.owner!.session.token, 'POST', '/api/users', {
    email,
    password,
    role: 'analyst',
  });
  expect(created.status).toBe(201);
  const phone = await browser.newContext({ viewport: { width: 390, height: 900 } });
  const p = await phone.newPage();
  try {
    await signInThroughPage(p, stack.apiUrl, { email, password }, `/flows/${flow.body.id}`);
    await p.click('[data-testid=step][data-step-id="hook"] .step-open');
    await p.locator('[data-testid=variable]').first().waitFor();
    for (const sel of [
      'webhook-url',
      'header-name',
      'header-value',
      'add-header',
      'header-remove',
      'test-send-button',
    ]) {
      expect(await p.locator(`[data-testid=${sel}]`).first().isDisabled()).toBe(true);
    }
    expect(await p.getAttribute('[data-testid=webhook-body] .cm-content', 'contenteditable')).toBe('false');
    expect(await p.locator('[data-testid=header-replace]').isVisible()).toBe(false);
    const body = await editorTextOf(p);
    await p.click('[data-testid=variable][data-path="{{ person.email }}"]');
    expect(await editorTextOf(p)).toBe(body);
    await p.click('[data-testid=preview-button]');
    await expectText(p.locator('[data-testid=preview-output]'), /"a": \d+/);
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  } finally {
    await phone.close();
  }
});

test('without two-step authentication, a first edit asks for it, and dismissing the modal undoes the edit', async () => {
  const url = receiver.url('/two-step');
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'Two-step first',
    trigger: { type: 'metric', metric: uniqueMetric('TwoStepEdit') },
    status: 'draft',
    steps: [{ id: 'hook', type: 'webhook', url, body: '{"a": 1}' }],
  });
  const email = 'manager-no-two-step@example.com';
  const password = 'a long password for the manager';
  const created = await stack.requestAs(stack.owner!.session.token, 'POST', '/api/users', {
    email,
    password,
    role: 'manager',
  });
  expect(created.status).toBe(201);
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const p = await ctx.newPage();
  try {
    await signInThroughPage(p, stack.apiUrl, { email, password }, `/flows/${flow.body.id}`);
    await p.click('[data-testid=step][data-step-id="hook"] .step-open');
    await p.locator('[data-testid=variable]').first().waitFor();
    const modal = p.locator('[data-testid=two-step-modal]');

    await p.click('[data-testid=webhook-url]');
    await p.keyboard.press('End');
    await p.keyboard.insertText('/changed');
    await modal.waitFor({ state: 'visible' });
    await p.keyboard.press('Escape');
    await modal.waitFor({ state: 'hidden' });
    await expectValue(p.locator('[data-testid=webhook-url]'), url);

    await p.click('[data-testid=webhook-body] .cm-content');
    await p.keyboard.insertText('zzz');
    await modal.waitFor({ state: 'visible' });
    await p.keyboard.press('Escape');
    await modal.waitFor({ state: 'hidden' });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await editorTextOf(p)) !== '{"a": 1}')
      await new Promise((r) => setTimeout(r, 100));
    expect(await editorTextOf(p)).toBe('{"a": 1}');
    // The step in the flow still shows the saved URL: no change reached the builder's draft.
    expect(await p.innerText('[data-testid=step][data-step-id="hook"]')).not.toContain('changed');
  } finally {
    await ctx.close();
  }
});

test('a webhook not saved yet previews its draft body; a test send asks to save first', async () => {
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'New webhook',
    trigger: { type: 'metric', metric: uniqueMetric('Unsaved') },
    status: 'draft',
    steps: [],
  });
  await page.goto(`${stack.apiUrl}/flows/${flow.body.id}`);
  await page.click('[data-testid="add-step-here"][data-list="root"]');
  await page.click('[data-testid="add-webhook"]');
  await page.locator('[data-testid=variable]').first().waitFor();
  expect(await page.locator('[data-testid=test-send-button]').isDisabled()).toBe(true);
  await expectText(page.locator('[data-testid=test-send-result]'), 'Save the flow to send a test.');
  await page.click('[data-testid=webhook-body] .cm-content');
  await page.keyboard.press('Control+a');
  await page.keyboard.insertText('{"fixed": [1, 2], "n": {{ event.value|default:5 }}}');
  await page.click('[data-testid=preview-button]');
  await expectText(
    page.locator('[data-testid=preview-output]'),
    JSON.stringify({ fixed: [1, 2], n: 99.5 }, null, 2),
  );
});

test('retry settings in the advanced section are checked as typed and saved with the step', async () => {
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'Retries',
    trigger: { type: 'metric', metric: uniqueMetric('Retries') },
    status: 'draft',
    steps: [{ id: 'hook', type: 'webhook', url: receiver.url('/retries'), body: '{"a": 1}' }],
  });
  await openStep(flow.body.id, 'hook');
  await page.click('[data-testid=webhook-advanced] summary');
  const message = page.locator('[data-testid=retry-message]');
  await page.fill('[data-testid=retry-maxAttempts]', '0');
  await expectText(message, 'Attempts in all must be between 1 and 1000.');
  expect(await page.getAttribute('[data-testid=retry-maxAttempts]', 'aria-invalid')).toBe('true');
  await page.fill('[data-testid=retry-maxAttempts]', '5');
  await page.fill('[data-testid=retry-initialIntervalMs]', '2000');
  await page.fill('[data-testid=retry-maxIntervalMs]', '1000');
  await expectText(message, 'The longest wait must be at least the first wait.');
  await page.fill('[data-testid=retry-maxIntervalMs]', '60000');
  await expectText(message, '');
  await page.click('[data-testid=save-flow]');
  await expectText(page.locator('[data-testid=save-status]'), /Saved/);
  const saved = await stack.request<{ steps: { retry?: unknown }[] }>('GET', `/api/flows/${flow.body.id}`);
  expect(saved.body.steps[0]!.retry).toEqual({
    maxAttempts: 5,
    initialIntervalMs: 2000,
    maxIntervalMs: 60000,
  });
});

test('signing: the checkbox turns it on, the save shows the secret once, and a test send verifies with it', async () => {
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'Signed',
    trigger: { type: 'metric', metric: uniqueMetric('Signed') },
    status: 'draft',
    steps: [{ id: 'hook', type: 'webhook', url: receiver.url('/signed'), body: '{"a": 1}', signing: false }],
  });
  await openStep(flow.body.id, 'hook');
  const box = page.locator('[data-testid=webhook-signing]');
  expect(await box.isChecked()).toBe(false);
  expect(await page.getByLabel('Sign requests (Standard Webhooks)').count()).toBe(1);
  await box.check();
  await page.click('[data-testid=save-flow]');
  await expectText(page.locator('[data-testid=save-status]'), /Saved/);
  const shown = page.locator('[data-testid=signing-secret]');
  await expectText(shown, /shown only this once/);
  const secret = await shown.locator('code').innerText();
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

  const read = await stack.request<{ steps: { signing: boolean; signingSecret: string }[] }>(
    'GET',
    `/api/flows/${flow.body.id}`,
  );
  expect(read.body.steps[0]!.signing).toBe(true);
  expect(read.body.steps[0]!.signingSecret).toContain('••••');
  const sent = await stack.request('POST', `/api/flows/${flow.body.id}/steps/hook/test`, {});
  expect(sent.status).toBe(200);
  const req = receiver.received('/signed').at(-1)!;
  const headers = {
    'webhook-id': String(req.headers['webhook-id']),
    'webhook-timestamp': String(req.headers['webhook-timestamp']),
    'webhook-signature': String(req.headers['webhook-signature']),
  };
  expect(new Webhook(secret).verify(req.body, headers)).toEqual({ a: 1 });

  // Never again: the panel shows the masked form after a reload.
  await openStep(flow.body.id, 'hook');
  expect(await page.locator('[data-testid=webhook-signing]').isChecked()).toBe(true);
  await expectText(page.locator('[data-testid=signing-help]'), /Secret: whs••••/);
  expect(await page.content()).not.toContain(secret.slice('whsec_'.length));

  // Rotate: the new secret shown once; requests carry both signatures, each verifies.
  await page.click('[data-testid=signing-rotate]');
  const rotated = page.locator('[data-testid=signing-rotated]');
  await expectText(rotated, /The previous secret keeps signing until/);
  const next = await rotated.locator('code').innerText();
  expect(next).toMatch(/^whsec_/);
  expect(next).not.toBe(secret);
  expect((await stack.request('POST', `/api/flows/${flow.body.id}/steps/hook/test`, {})).status).toBe(200);
  const both = receiver.received('/signed').at(-1)!;
  const bothHeaders = {
    'webhook-id': String(both.headers['webhook-id']),
    'webhook-timestamp': String(both.headers['webhook-timestamp']),
    'webhook-signature': String(both.headers['webhook-signature']),
  };
  expect(bothHeaders['webhook-signature'].split(' ')).toHaveLength(2);
  expect(new Webhook(next).verify(both.body, bothHeaders)).toEqual({ a: 1 });
  expect(new Webhook(secret).verify(both.body, bothHeaders)).toEqual({ a: 1 });
  // The page's copy, read before the rotation, still saves and keeps the new secret.
  await page.click('[data-testid=save-flow]');
  await expectText(page.locator('[data-testid=save-status]'), /Saved/);
  expect((await stack.request('POST', `/api/flows/${flow.body.id}/steps/hook/test`, {})).status).toBe(200);
  const after = receiver.received('/signed').at(-1)!;
  expect(
    new Webhook(next).verify(after.body, {
      'webhook-id': String(after.headers['webhook-id']),
      'webhook-timestamp': String(after.headers['webhook-timestamp']),
      'webhook-signature': String(after.headers['webhook-signature']),
    }),
  ).toEqual({ a: 1 });
});

async function editorTextOf(p: Page): Promise<string> {
  return (await p.locator('[data-testid=webhook-body] .cm-line').allTextContents()).join('\n');
}

async function expectEditorText(want: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await editorText()) !== want) await new Promise((r) => setTimeout(r, 100));
  expect(await editorText()).toBe(want);
}

/** Waits (up to 10 s) until the element's text equals or matches. */
async function expectText(locator: ReturnType<Page['locator']>, want: string | RegExp): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = '';
  while (Date.now() < deadline) {
    last =
      (await locator
        .first()
        .textContent()
        .catch(() => null)) ?? '';
    if (typeof want === 'string' ? last === want : want.test(last)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(last).toEqual(want);
}

async function expectCount(locator: ReturnType<Page['locator']>, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await locator.count()) !== n) await new Promise((r) => setTimeout(r, 100));
  expect(await locator.count()).toBe(n);
}

async function expectValue(locator: ReturnType<Page['locator']>, want: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await locator.inputValue().catch(() => '')) !== want) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await locator.inputValue()).toBe(want);
}
