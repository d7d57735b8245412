import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import { launchBrowser, signInThroughPage } from '../support/browser';
import type { PublicFlow } from '../support/api-types';
import { startOneRun, uniqueMetric, waitForRun } from '../support/flows';

/**
 * The pages in Chromium under their Content-Security-Policy, with hostile text everywhere a user
 * can put text: a flow name, a step name, a header name, a profile value and an endpoint's
 * response each carry a script and an `<img onerror>`. On every page: no CSP violation, no page
 * error, no payload ran, no element was injected, and the payload reads literally as text.
 */

/** Markup that would run if a page put it into HTML unescaped (no quotes, so it survives JSON bodies). */
const payload = (tag: string) =>
  `${tag} <script>window.__pwned='${tag}';document.title='pwned'</script><img src=x onerror=window.__pwned='${tag}'> end`;
const FLOW_NAME = payload('flow');
const STEP_NAME = payload('step');
const HEADER_NAME = payload('header');
const PROFILE_VALUE = payload('profile');
const RESPONSE_BODY = `<!doctype html><html><body>${payload('response')}</body></html>`;

let stack: Stack;
let receiver: Receiver;
let browser: Browser;
let context: BrowserContext;
let flow: PublicFlow;
let deliveryId: string;
const metric = uniqueMetric('Hostile');
const email = 'hostile@example.com';

/** What went wrong on a page, collected while it is open. */
interface Watch {
  violations: string[];
  errors: string[];
}

async function watched(ctx: BrowserContext): Promise<{ page: Page; watch: Watch }> {
  const page = await ctx.newPage();
  const watch: Watch = { violations: [], errors: [] };
  // Both the DOM event (kept on the window) and Chromium's console report, in case one is missed.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as { __cspViolations?: string[] }).__cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) => {
      seen.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (m) => {
    if (/Content Security Policy|CSP violation/i.test(m.text())) watch.violations.push(m.text());
  });
  page.on('pageerror', (e) => watch.errors.push(e.message));
  return { page, watch };
}

/** No payload ran, nothing was injected, no CSP violation and no script error so far. */
async function expectClean(page: Page, watch: Watch): Promise<void> {
  const state = await page.evaluate(() => ({
    pwned: (window as { __pwned?: string }).__pwned ?? null,
    events: (window as { __cspViolations?: string[] }).__cspViolations ?? [],
    title: document.title,
    injected: document.querySelectorAll(
      'img[onerror], img[src="x"], script:not([src]):not([type="application/json"])',
    ).length,
  }));
  expect(state.title).not.toBe('pwned');
  expect({ url: page.url(), ...state, title: undefined, ...watch }).toEqual({
    url: page.url(),
    pwned: null,
    events: [],
    title: undefined,
    injected: 0,
    violations: [],
    errors: [],
  });
}

/** The payload shows as text (whitespace as the browser lays it out). */
async function expectLiteral(page: Page, text: string, within = 'body'): Promise<void> {
  const squash = (s: string) => s.replace(/\s+/g, ' ');
  await poll(
    async () => squash(await page.locator(within).first().innerText()),
    (shown) => shown.includes(squash(text)),
    15_000,
  );
}

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'security-pages', caCert: pki.caCert });
  // The endpoint answers an HTML page with script in it: a 400, so the delivery is skipped at once.
  receiver.script('/hostile', { status: 400, headers: { 'content-type': 'text/html' }, body: RESPONSE_BODY });
  const created = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: FLOW_NAME,
    trigger: { type: 'metric', metric },
    status: 'live',
    steps: [
      {
        id: 'hook',
        type: 'webhook',
        name: STEP_NAME,
        url: receiver.url('/hostile'),
        body: '{"nick": "{{ person.nickname }}"}',
      },
    ],
  });
  expect(created.status).toBe(201);
  flow = created.body;
  const runId = await startOneRun(stack, metric, {
    profile: { email, properties: { nickname: PROFILE_VALUE } },
  });
  await waitForRun(stack, runId);
  const deliveries = await stack.request<{ deliveries: { id: string; status: string }[] }>(
    'GET',
    `/api/webhooks/deliveries?flowId=${flow.id}`,
  );
  expect(deliveries.body.deliveries.map((d) => d.status)).toEqual(['skipped']);
  deliveryId = deliveries.body.deliveries[0]!.id;

  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
  const { page } = await watched(context);
  const owner = stack.owner!;
  await signInThroughPage(page, stack.apiUrl, { ...owner, code: owner.recoveryCodes.shift()! }, '/flows');
  await page.close();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await receiver?.close();
});

test('the signed-out pages run under the CSP without a violation', async () => {
  const anonymous = await browser.newContext();
  try {
    for (const path of ['/sign-in', '/setup', '/flows']) {
      const { page, watch } = await watched(anonymous);
      await page.goto(`${stack.apiUrl}${path}`);
      await page.locator('#sign-in').waitFor();
      // The sign-in script is there and works: a wrong password is answered on the page.
      await page.fill('#email', 'nobody@example.com');
      await page.fill('#password', 'not a password');
      await page.click('button[type=submit]');
      await expectLiteral(page, 'the email or the password is wrong', '#error');
      await expectClean(page, watch);
      await page.close();
    }
  } finally {
    await anonymous.close();
  }
});

test('flow list, analytics, step, delivery, account and not-found pages show the payloads as text', async () => {
  const pages: { path: string; literal: string[] }[] = [
    { path: '/flows', literal: [FLOW_NAME] },
    { path: '/webhooks', literal: [FLOW_NAME, STEP_NAME] },
    { path: `/webhooks?q=${encodeURIComponent('flow <script>')}`, literal: [FLOW_NAME, STEP_NAME] },
    { path: `/webhooks?flow=${flow.id}`, literal: [FLOW_NAME, STEP_NAME] },
    { path: `/webhooks/steps/${flow.id}/hook`, literal: [FLOW_NAME, STEP_NAME] },
    { path: `/webhooks/deliveries/${deliveryId}`, literal: [FLOW_NAME, payload('response')] },
    { path: '/account/two-step', literal: ['Two-step authentication is on'] },
    {
      path: `/flows/${encodeURIComponent('<img src=x onerror=window.__pwned=1>')}`,
      literal: ['There is no flow <img'],
    },
  ];
  for (const { path, literal } of pages) {
    const { page, watch } = await watched(context);
    await page.goto(`${stack.apiUrl}${path}`);
    for (const text of literal) await expectLiteral(page, text);
    // Times were rewritten by the layout script (it runs under the CSP).
    if (path === '/flows') {
      expect(await page.locator('time[title]').count()).toBeGreaterThan(0);
    }
    await expectClean(page, watch);
    await page.close();
  }
});

test('the delivery page resends under the CSP (the CSRF token goes with it)', async () => {
  const { page, watch } = await watched(context);
  await page.goto(`${stack.apiUrl}/webhooks/deliveries/${deliveryId}`);
  await page.click(`button[data-resend="${deliveryId}"]`);
  await expectLiteral(page, 'Resend skipped', `#note-${deliveryId}`);
  await expectClean(page, watch);
  await page.close();
});

test('the builder shows the flow, step, profile value, endpoint answer and a typed header name as text', async () => {
  const { page, watch } = await watched(context);
  await page.goto(`${stack.apiUrl}/flows/${flow.id}`);
  await expectLiteral(page, FLOW_NAME, 'h1');
  await expectLiteral(page, STEP_NAME, '[data-testid=builder]');
  expect(await page.title()).toBe(`${FLOW_NAME} · hookflow`);

  await page.click('[data-testid=step][data-step-id="hook"] .step-open');
  await page.locator('[data-testid=webhook-editor]').waitFor();
  // The profile with the hostile value as the sample: the variables and the preview show it.
  await page.fill('[data-testid=sample-email]', email);
  await page.click('[data-testid=sample-find]');
  // (The panel shortens long examples with an ellipsis: its start is enough.)
  await expectLiteral(page, PROFILE_VALUE.slice(0, 50), '[data-testid=variables-panel]');
  await page.click('[data-testid=preview-button]');
  await expectLiteral(page, PROFILE_VALUE, '[data-testid=preview-output]');
  // A test send: the endpoint's HTML answer is shown as an excerpt, as text.
  await page.click('[data-testid=test-send-button]');
  await expectLiteral(page, payload('response'), '[data-testid=test-send-excerpt]');
  await expectClean(page, watch);

  // A header name with markup in it stays a field value: refused as typed, nothing parsed.
  await page.locator('[data-testid=add-header]').click();
  await page.locator('input[data-testid=header-name]').last().fill(HEADER_NAME);
  await page.locator('input[data-testid=header-value]').last().fill('a value');
  expect(await page.locator('input[data-testid=header-name]').last().inputValue()).toBe(HEADER_NAME);
  await expectLiteral(page, 'A header name has letters, digits and - only');
  await expectClean(page, watch);
  // The API refuses it too, naming it in JSON (which the builder would show with textContent).
  const refused = await stack.request<{ error: { details: { message: string }[] } }>(
    'PATCH',
    `/api/flows/${flow.id}`,
    { steps: [{ ...flow.steps[0], headers: { [HEADER_NAME]: 'v' } }] },
  );
  expect(refused.status).toBe(422);
  expect(JSON.stringify(refused.body)).toContain('is not a valid HTTP header name');
  await page.close();
});

test('a page whose session was renewed in another tab picks up the new CSRF token and carries on', async () => {
  const { page, watch } = await watched(context);
  await page.goto(`${stack.apiUrl}/flows`);
  // Another tab signs in again: the browser's cookie is a new session, the old one has ended.
  const owner = stack.owner!;
  const again = await context.request.post(`${stack.apiUrl}/api/auth/sign-in`, {
    data: { email: owner.email, password: owner.password, code: owner.recoveryCodes.shift()! },
  });
  expect(again.status()).toBe(200);
  // Creating a flow on the first page: refused once for the stale token, then sent with the new one
  // (without the renewal the page would show "requests that change data … reload the page").
  await page.fill('[data-testid="create-name"]', 'After a new sign-in');
  await page.fill('[data-testid="create-metric"]', uniqueMetric('Renewed'));
  await page.click('[data-testid="create-submit"]');
  await page.waitForURL(/\/flows\/flw_/);
  await expectLiteral(page, 'After a new sign-in', 'h1');
  await expectClean(page, watch);
  await page.close();
});
