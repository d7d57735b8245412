import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { currentTotp } from '../../src/auth/totp';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { ARTIFACTS, poll, Stack } from '../harness/stack';
import { launchBrowser, signInThroughPage } from '../support/browser';
import type { ErrorResponse, PublicFlow } from '../support/api-types';
import { uniqueMetric } from '../support/flows';

/** The flow builder page (/flows/:id) in Chromium on the real stack: the guide, keyboard, checks, two-step, roles. */

interface Member {
  email: string;
  password: string;
  token: string;
  recoveryCodes: string[];
}

let stack: Stack;
let receiver: Receiver;
let browser: Browser;
let members = 0;

async function must<T>(res: Promise<{ status: number; body: T }>, status: number, what: string): Promise<T> {
  const r = await res;
  if (r.status !== status) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * Turns two-step authentication on for a signed-in session with a real TOTP code; returns the
 * recovery codes and the new session token (confirming rotates the session).
 */
async function enableTwoStep(
  token: string,
  password: string,
): Promise<{ recoveryCodes: string[]; token: string }> {
  const setup = await must(
    stack.requestAs<{ otpauthUri: string }>(token, 'POST', '/api/auth/two-step/setup', { password }),
    200,
    'two-step setup',
  );
  const secret = new URL(setup.otpauthUri).searchParams.get('secret')!;
  const done = await must(
    stack.requestAs<{ recoveryCodes: string[]; token: string }>(token, 'POST', '/api/auth/two-step/confirm', {
      code: currentTotp(secret),
    }),
    200,
    'two-step confirm',
  );
  return { recoveryCodes: done.recoveryCodes, token: done.token };
}

/** A user of the given role, signed in through the API (its session token), with two-step on when asked. */
async function addMember(role: 'manager' | 'analyst', twoStep: boolean): Promise<Member> {
  members++;
  const email = `${role}${members}@example.com`;
  const password = `a long password for ${role} ${members}`;
  await must(
    stack.requestAs(stack.owner!.session.token, 'POST', '/api/users', { email, password, role }),
    201,
    'create user',
  );
  const session = await must(
    stack.requestAs<{ token: string }>(undefined, 'POST', '/api/auth/sign-in', { email, password }),
    200,
    'sign in',
  );
  const signedIn = twoStep
    ? await enableTwoStep(session.token, password)
    : { recoveryCodes: [], token: session.token };
  return { email, password, ...signedIn };
}

/** A page signed in as `m` on `next` (a recovery code answers the code step of two-step accounts). */
async function openAs(m: Member, next: string, width = 1360): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 1100 } });
  const page = await context.newPage();
  const code = m.recoveryCodes.shift();
  await signInThroughPage(page, stack.apiUrl, { ...m, ...(code ? { code } : {}) }, next);
  await page.locator('[data-testid="step-list"][data-list="root"]').waitFor();
  return page;
}

async function createFlow(token: string, body: Record<string, unknown>): Promise<PublicFlow> {
  return must(stack.requestAs<PublicFlow>(token, 'POST', '/api/flows', body), 201, 'create flow');
}

async function getFlow(id: string): Promise<PublicFlow> {
  return must(stack.request<PublicFlow>('GET', `/api/flows/${id}`), 200, 'get flow');
}

/**
 * Drags with the mouse in small steps, as a person does (SortableJS runs in its pointer fallback).
 * The flow reflows while the dragged copy passes through it, so the target is looked up again
 * until the drop marker sits in the target list, as a person's eye would follow it.
 */
async function drag(page: Page, from: Locator, to: Locator): Promise<void> {
  // The builder redraws the flow after a drop (and after the settings beside it re-render): an
  // element found a moment ago may be replaced by its redrawn twin, so look it up again.
  for (let i = 0; ; i++) {
    try {
      await to.scrollIntoViewIfNeeded({ timeout: 2000 });
      await from.scrollIntoViewIfNeeded({ timeout: 2000 });
      break;
    } catch (err) {
      if (i >= 4) throw err;
      await page.waitForTimeout(200);
    }
  }
  const a = (await from.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(a.x + a.width / 2 + 8, a.y + a.height / 2 + 8, { steps: 4 });
  for (let i = 0; i < 8; i++) {
    const b = (await to.boundingBox())!;
    await page.mouse.move(b.x + b.width / 2, b.y + Math.min(b.height / 2, 14), { steps: 10 });
    await page.waitForTimeout(120);
    if (await to.evaluate((el) => el.querySelector(':scope > .drop-ghost') !== null)) break;
  }
  await page.mouse.up();
}

/** Presses Tab (or Shift+Tab) until the focused element matches `selector`. */
async function tabTo(page: Page, selector: string, key: 'Tab' | 'Shift+Tab' = 'Tab'): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press(key);
  }
  throw new Error(`${selector} was not reached with ${key}`);
}

/** The body editor's typing surface: CodeMirror's content element, or a plain textarea. */
const bodyEditor = (page: Page) =>
  page.locator('[data-testid="webhook-body"] .cm-content, [data-testid="webhook-body"] textarea').first();

/** Opens the variables panel when it is a disclosure that starts closed. */
async function openVariables(page: Page): Promise<void> {
  const panel = page.locator('[data-testid="variables-panel"]');
  await panel.waitFor();
  if (await panel.evaluate((el) => el.tagName === 'DETAILS' && !(el as HTMLDetailsElement).open)) {
    await panel.locator('summary').click();
  }
}

const saveStatus = (page: Page) => page.locator('[data-testid="save-status"]');
async function saveAndWait(page: Page, state: 'live' | 'saved' | 'failed'): Promise<string> {
  await page.click('[data-testid="save-flow"]');
  await page.locator(`[data-testid="save-status"][data-state="${state}"]`).waitFor();
  return saveStatus(page).innerText();
}

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'builder-page', caCert: pki.caCert });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await receiver?.close();
});

test('the guide: a manager drags a webhook into a branch, writes it with a variable, previews, goes live, and an event delivers the previewed body', async () => {
  const m = await addMember('manager', true);
  const metric = uniqueMetric('Guide');
  const profile = { email: 'grace@example.com', first_name: 'Grace', properties: { tier: 'gold' } };
  // A real event first: its profile fills the variables panel and its metric the suggestions.
  await must(
    stack.request('POST', '/api/events', { metric, profile, properties: { value: 250 } }),
    202,
    'first event',
  );
  const metrics = await must(
    stack.requestAs<{ metrics: string[] }>(m.token, 'GET', '/api/events/metrics?limit=5'),
    200,
    'metrics',
  );
  expect(metrics.metrics[0]).toBe(metric);
  const badLimit = await stack.requestAs<ErrorResponse>(m.token, 'GET', '/api/events/metrics?limit=0');
  expect([badLimit.status, badLimit.body.error.details[0]?.path]).toEqual([422, 'limit']);
  const flow = await createFlow(m.token, {
    name: 'Big orders to the CRM',
    trigger: { type: 'metric', metric },
    steps: [{ id: 'big', type: 'split', condition: 'event.value > 100', yes: [], no: [] }],
  });

  const page = await openAs(m, `/flows/${flow.id}`);
  expect(await page.inputValue('#trigger-type')).toBe('metric');
  expect(await page.inputValue('#trigger-metric')).toBe(metric);
  const suggestions = await page
    .locator('#metric-suggestions option')
    .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(suggestions).toContain(metric);

  const yes = page.locator('[data-testid="step-list"][data-list="big.yes"]');
  await drag(page, page.locator('[data-testid="palette-webhook"]'), yes);
  const hook = yes.locator('[data-testid="step"][data-step-type="webhook"]');
  await hook.waitFor();
  expect(await page.locator('[data-testid="two-step-modal"]').isVisible()).toBe(false);
  const stepId = (await hook.getAttribute('data-step-id'))!;
  expect(stepId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  // The palette keeps its action after the drag.
  await page.locator('[data-testid="palette-webhook"]').waitFor();

  await page.fill('[data-testid="webhook-url"]', receiver.url('/guide'));
  await page.click('[data-testid="add-header"]');
  await page.locator('[data-testid="header-name"]').last().fill('X-Api-Key');
  await page.locator('[data-testid="header-value"]').last().fill('guide-secret');
  await bodyEditor(page).click();
  await page.keyboard.insertText('{"customer": "');
  await openVariables(page);
  await page.click('[data-testid="variable"][data-path="{{ person.first_name }}"]');
  await bodyEditor(page).press('End');
  await page.keyboard.insertText('", "total": {{ event.value }} }');

  // Saved as a draft first: the preview renders the saved step.
  expect(await saveAndWait(page, 'saved')).toMatch(/draft/i);
  await page.click('[data-testid="preview-button"]');
  const preview = page.locator('[data-testid="preview-output"]');
  await preview.filter({ hasText: 'Grace' }).waitFor();
  const previewed = JSON.parse(await preview.innerText()) as unknown;
  expect(previewed).toEqual({ customer: 'Grace', total: 250 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'builder.png'), fullPage: true });

  await page.selectOption('#flow-status', 'live');
  expect(await saveAndWait(page, 'live')).toMatch(/live/i);
  const saved = await getFlow(flow.id);
  expect(saved.status).toBe('live');
  const branch = (saved.steps[0] as { yes: { id: string; url: string; headers: Record<string, string> }[] })
    .yes;
  expect(branch.map((s) => [s.id, s.url])).toEqual([[stepId, receiver.url('/guide')]]);
  expect(JSON.stringify(branch[0]!.headers)).not.toContain('guide-secret');

  await must(
    stack.request('POST', '/api/events', { metric, profile, properties: { value: 250 } }),
    202,
    'event',
  );
  const got = await poll(
    () => Promise.resolve(receiver.received('/guide')),
    (r) => r.length >= 1,
  );
  expect(got).toHaveLength(1);
  expect(JSON.parse(got[0]!.body)).toEqual(previewed);
  expect(got[0]!.headers['x-api-key']).toBe('guide-secret');
  await page.context().close();
}, 180_000);

test('a webhook step is created with the keyboard only', async () => {
  const m = await addMember('manager', true);
  const flow = await createFlow(m.token, {
    name: 'Keyboard',
    trigger: { type: 'metric', metric: uniqueMetric('Keys') },
  });
  const page = await openAs(m, `/flows/${flow.id}`);
  await page.locator('body').focus();
  await tabTo(page, '[data-testid="add-step-here"][data-list="root"]');
  await page.keyboard.press('Enter');
  await tabTo(page, '[data-testid="add-webhook"]');
  await page.keyboard.press('Enter');
  await page.locator('[data-testid="step"][data-step-type="webhook"]').waitFor();
  await tabTo(page, '[data-testid="webhook-url"]');
  await page.keyboard.type(receiver.url('/keys'));
  await tabTo(page, '[data-testid="add-header"]');
  await page.keyboard.press('Enter');
  await tabTo(page, '[data-testid="header-name"]');
  await page.keyboard.type('X-Team');
  await page.keyboard.press('Tab');
  await page.keyboard.type('growth');
  await tabTo(page, '[data-testid="webhook-body"] .cm-content, [data-testid="webhook-body"] textarea');
  await page.keyboard.insertText('{"email": "{{ person.email }}"}');
  await tabTo(page, '[data-testid="save-flow"]', 'Shift+Tab');
  await page.keyboard.press('Enter');
  await page.locator('[data-testid="save-status"][data-state="saved"]').waitFor();

  const saved = await getFlow(flow.id);
  expect(saved.steps).toEqual([
    expect.objectContaining({
      type: 'webhook',
      url: receiver.url('/keys'),
      body: '{"email": "{{ person.email }}"}',
    }),
  ]);
  // Saved header values come back masked, never as typed.
  const headers = (saved.steps[0] as { headers: Record<string, string> }).headers;
  expect(Object.keys(headers)).toEqual(['X-Team']);
  expect(headers['X-Team']).not.toBe('growth');
  await page.context().close();
}, 120_000);

test('an http:// URL, a self-signed endpoint and a redirect show their description after Save, and the flow stays a draft', async () => {
  const m = await addMember('manager', true);
  const pki = createTestPki();
  const selfSigned = await Receiver.start(pki.selfSigned);
  try {
    receiver.scriptHead('/moved', { status: 301, headers: { location: 'https://elsewhere.example/hook' } });
    const flow = await createFlow(m.token, {
      name: 'Checks',
      trigger: { type: 'metric', metric: uniqueMetric('Checks') },
      steps: [{ id: 'crm', type: 'webhook', url: receiver.url('/fine'), body: '{"a": 1}' }],
    });
    const page = await openAs(m, `/flows/${flow.id}`);
    await page.click('[data-testid="step"][data-step-id="crm"] .step-open');
    await page.selectOption('#flow-status', 'live');

    const attempt = async (url: string, expected: RegExp) => {
      await page.fill('[data-testid="webhook-url"]', url);
      const banner = await saveAndWait(page, 'failed');
      expect(banner).toMatch(expected);
      await page.locator('[data-testid="url-check"]').filter({ hasText: expected }).waitFor();
      await page.locator('[data-testid="step"][data-step-id="crm"][data-problem="true"]').waitFor();
      expect((await getFlow(flow.id)).status).toBe('draft');
    };
    const http = receiver.url('/plain').replace('https://', 'http://');
    // As typed, before any save, the field already says so.
    await page.fill('[data-testid="webhook-url"]', http);
    await page
      .locator('[data-testid="url-message"], [data-testid="url-check"]')
      .filter({ hasText: /https/ })
      .first()
      .waitFor();
    await attempt(http, /must use https/);
    await attempt(selfSigned.url('/hook'), /self-signed/);
    await attempt(receiver.url('/moved'), /redirect/);
    await page.context().close();
  } finally {
    await selfSigned.close();
  }
}, 120_000);

test('the two-step modal: Continue before setting up says so, and closes once two-step authentication is on', async () => {
  const owner = stack.owner!;
  const flow = await createFlow(owner.session.token, {
    name: 'Needs two-step',
    trigger: { type: 'metric', metric: uniqueMetric('TwoStep') },
  });
  const m = await addMember('manager', false);
  const page = await openAs(m, `/flows/${flow.id}`);
  const modal = page.locator('[data-testid="two-step-modal"]');
  await page.click('[data-testid="add-step-here"][data-list="root"]');
  await page.click('[data-testid="add-webhook"]');
  await modal.waitFor({ state: 'visible' });
  expect(await modal.innerText()).toMatch(/two-step authentication/i);
  expect(await page.getAttribute('[data-testid="two-step-setup"]', 'href')).toBe(
    `/account/two-step?next=${encodeURIComponent(`/flows/${flow.id}`)}`,
  );
  await page.click('[data-testid="two-step-continue"]');
  await page
    .locator('[data-testid="two-step-error"]')
    .filter({ hasText: /could not be verified/ })
    .waitFor();
  expect(await page.locator('[data-testid="step"][data-step-type="webhook"]').count()).toBe(0);
  await page.screenshot({ path: path.join(ARTIFACTS, 'two-step-modal.png') });

  await enableTwoStep(m.token, m.password);
  await page.click('[data-testid="two-step-continue"]');
  await modal.waitFor({ state: 'hidden' });
  await page.locator('[data-testid="step"][data-step-type="webhook"]').waitFor();
  // Once on, it does not come back.
  await page.click('[data-testid="add-step-here"][data-list="root"]');
  await page.click('[data-testid="add-webhook"]');
  await poll(
    () => page.locator('[data-testid="step"][data-step-type="webhook"]').count(),
    (n) => n === 2,
  );
  expect(await modal.isVisible()).toBe(false);
  await page.context().close();
}, 120_000);

test('the set-up link keeps the unsaved draft and brings the viewer back to it', async () => {
  const flow = await createFlow(stack.owner!.session.token, {
    name: 'Round trip',
    trigger: { type: 'metric', metric: uniqueMetric('Trip') },
  });
  const m = await addMember('manager', false);
  const page = await openAs(m, `/flows/${flow.id}`);
  await page.click('[data-testid="add-step-here"][data-list="root"]');
  await page.click('[data-testid="add-delay"]');
  await page.locator('[data-testid="step"][data-step-type="delay"]').waitFor();
  await page.click('[data-testid="add-step-here"][data-list="root"][data-index="1"]');
  await page.click('[data-testid="add-webhook"]');
  await page.click('[data-testid="two-step-setup"]');
  await page.waitForURL((u) => u.pathname === '/account/two-step');
  const next = new URL(page.url()).searchParams.get('next')!;
  expect(next).toBe(`/flows/${flow.id}`);
  await enableTwoStep(m.token, m.password);
  await page.goto(`${stack.apiUrl}${next}`);
  await page.locator('[data-testid="step"][data-step-type="webhook"]').waitFor();
  expect(
    await page
      .locator('[data-testid="step-list"][data-list="root"] > li > [data-testid="step"]')
      .evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.stepType)),
  ).toEqual(['delay', 'webhook']);
  expect(await page.locator('[data-testid="two-step-modal"]').isVisible()).toBe(false);
  await page.context().close();
}, 120_000);

test('an analyst sees the flow read-only, with the reason', async () => {
  const flow = await createFlow(stack.owner!.session.token, {
    name: '</script><script>window.pwned = 1</script>',
    trigger: { type: 'metric', metric: uniqueMetric('ReadOnly') },
    steps: [{ id: 'hook', type: 'webhook', url: receiver.url('/ro'), body: '{"a": 1}' }],
  });
  const a = await addMember('analyst', false);
  const page = await openAs(a, `/flows/${flow.id}`, 390);
  expect(await page.innerText('[data-testid="read-only-banner"]')).toMatch(/your role is analyst/);
  expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();
  expect(await page.inputValue('#flow-name')).toBe('</script><script>window.pwned = 1</script>');
  expect(await page.locator('#flow-name').isDisabled()).toBe(true);
  expect(await page.locator('#trigger-metric').isDisabled()).toBe(true);
  expect(await page.locator('[data-testid="palette-webhook"]').count()).toBe(0);
  expect(await page.locator('[data-testid="add-step-here"]').count()).toBe(0);
  expect(await page.locator('[data-testid="remove-step"]').count()).toBe(0);
  expect(await page.locator('[data-testid="save-flow"]').isVisible()).toBe(false);
  await page.click('[data-testid="step"][data-step-id="hook"] .step-open');
  expect(await page.locator('[data-testid="webhook-url"]').isEditable()).toBe(false);
  // At phone width the flow and the settings stack instead of overflowing.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

  const missing = await page.goto(`${stack.apiUrl}/flows/no-such-flow`);
  expect(missing?.status()).toBe(404);
  expect(await page.innerText('h1')).toMatch(/Flow not found/);
  await page.context().close();
}, 120_000);

test('steps move by drag, are removed, and the last removal is undone', async () => {
  const m = await addMember('manager', true);
  const flow = await createFlow(m.token, {
    name: 'Moves',
    trigger: { type: 'metric', metric: uniqueMetric('Moves') },
    steps: [
      { id: 'wait', type: 'delay', seconds: 60 },
      { id: 'fork', type: 'split', condition: 'event.value > 1', yes: [], no: [] },
    ],
  });
  const page = await openAs(m, `/flows/${flow.id}`);
  await drag(
    page,
    page.locator('[data-testid="step"][data-step-id="wait"]'),
    page.locator('[data-testid="step-list"][data-list="fork.no"]'),
  );
  await page
    .locator('[data-testid="step-list"][data-list="fork.no"] [data-step-id="wait"]')
    .first()
    .waitFor();
  await drag(
    page,
    page.locator('[data-testid="palette-split"]'),
    page.locator('[data-testid="step-list"][data-list="fork.yes"]'),
  );
  await page.locator('[data-testid="step-list"][data-list="fork.yes"] [data-step-type="split"]').waitFor();
  await page.fill('textarea[id^="split-condition-"]', 'person.tier == "gold"');

  await page.click('[data-testid="step"][data-step-id="wait"] [data-testid="remove-step"]');
  expect(await page.locator('[data-testid="step"][data-step-id="wait"]').count()).toBe(0);
  await page.click('[data-testid="undo-remove"]');
  await page
    .locator('[data-testid="step-list"][data-list="fork.no"] [data-step-id="wait"]')
    .first()
    .waitFor();
  await saveAndWait(page, 'saved');
  // At phone width the flow and the settings stack, and nothing overflows sideways.
  await page.setViewportSize({ width: 390, height: 900 });
  await page.click('[data-testid="step"][data-step-id="fork"] .step-open');
  await page.locator('textarea[id="split-condition-fork"]').waitFor();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.screenshot({ path: path.join(ARTIFACTS, 'builder-phone.png'), fullPage: true });
  const saved = await getFlow(flow.id);
  expect(saved.steps).toEqual([
    expect.objectContaining({
      id: 'fork',
      yes: [expect.objectContaining({ type: 'split', condition: 'person.tier == "gold"' })],
      no: [{ id: 'wait', type: 'delay', seconds: 60 }],
    }),
  ]);
  await page.context().close();
}, 120_000);

test('a step and its analytics link to each other both ways', async () => {
  const flow = await createFlow(stack.owner!.session.token, {
    name: 'Linked both ways',
    trigger: { type: 'metric', metric: uniqueMetric('Linked') },
    steps: [
      { id: 'first', type: 'webhook', url: receiver.url('/one'), body: '{"n": 1}' },
      { id: 'second', type: 'webhook', url: receiver.url('/two'), body: '{"n": 2}' },
    ],
  });
  const a = await addMember('analyst', false);
  const page = await openAs(a, `/flows/${flow.id}`);
  await page.goto(`${stack.apiUrl}/webhooks/steps/${flow.id}/second`);
  await page.click('[data-testid="edit-in-builder"]');
  await page.waitForURL((u) => u.pathname === `/flows/${flow.id}` && u.hash === '#step-second');
  // The linked step's settings are open: its URL, not the first step's.
  await page.locator('[data-testid="webhook-url"]').waitFor();
  expect(await page.inputValue('[data-testid="webhook-url"]')).toBe(receiver.url('/two'));
  await page.click('a[href="/webhooks/steps/' + flow.id + '/second"]');
  await page.waitForURL((u) => u.pathname === `/webhooks/steps/${flow.id}/second`);
  await page.context().close();
}, 120_000);
