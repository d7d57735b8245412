import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import type { ApiResponse } from '../harness/stack';
import { ARTIFACTS, Stack } from '../harness/stack';
import { launchBrowser, signInThroughPage } from '../support/browser';
import type { PublicFlow, RunsResponse } from '../support/api-types';
import { postEvent, step, uniqueMetric, waitForRun } from '../support/flows';

/** The flow list (`/flows`) in Chromium on the real stack: rows, create, duplicate, delete, roles. */

const SECRET = 'sk_live_flowlist_0123456789';
const fast = { retry: { maxAttempts: 2, initialIntervalMs: 100, maxIntervalMs: 100 } };

let stack: Stack;
let receiver: Receiver;
let browser: Browser;
const metric = uniqueMetric('Flow list');
const flows: Record<'orders' | 'vip' | 'birthday' | 'drop', PublicFlow> = {} as never;
const people = {
  manager: { email: 'manager-no2fa@example.com', password: 'manager password 1234' },
  analyst: { email: 'analyst@example.com', password: 'analyst password 1234' },
};

async function must<T>(r: Promise<ApiResponse<T>>, status: number, what: string): Promise<T> {
  const res = await r;
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const createFlow = (body: Record<string, unknown>) =>
  must(stack.request<PublicFlow>('POST', '/api/flows', body), 201, `create ${String(body.name)}`);

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'flows-page', caCert: pki.caCert });
  receiver.script('/flows-gone', { status: 404, body: 'no such hook' });
  for (const [role, who] of Object.entries(people)) {
    await must(
      stack.requestAs(stack.owner!.session.token, 'POST', '/api/users', { ...who, role }),
      201,
      `user ${role}`,
    );
  }
  const list = await must(stack.request<{ id: string }>('POST', '/api/lists', { name: 'VIP' }), 201, 'list');
  flows.orders = await createFlow({
    name: 'Orders → CRM',
    trigger: { type: 'metric', metric },
    status: 'live',
    steps: [
      {
        id: 'crm',
        type: 'webhook',
        url: receiver.url('/flows-crm'),
        headers: { 'X-Api-Key': SECRET },
        body: '{"email": "{{ person.email }}"}',
        ...fast,
      },
      { id: 'audit', type: 'webhook', url: receiver.url('/flows-gone'), body: '{}', ...fast },
    ],
  });
  flows.vip = await createFlow({ name: 'VIP welcome', trigger: { type: 'list', listId: list.id } });
  flows.birthday = await createFlow({ name: 'Birthday', trigger: { type: 'date', property: 'birthday' } });
  flows.drop = await createFlow({
    name: 'Cheaper now',
    trigger: { type: 'price_drop', threshold: { percent: 20 } },
  });
  // A real delivery and a real skip in the last 24 hours.
  const res = await must(postEvent(stack, metric), 202, 'event');
  const run = await waitForRun(stack, res.runs[0]!.runId);
  expect([step(run, 'crm').status, step(run, 'audit').status]).toEqual(['delivered', 'skipped']);
  browser = await launchBrowser();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await receiver?.close();
});

async function signedIn(
  who: { email: string; password: string; code?: string },
  width = 1280,
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  await signInThroughPage(page, stack.apiUrl, who, '/flows');
  return page;
}

const asOwner = () => {
  const owner = stack.owner!;
  return signedIn({ ...owner, code: owner.recoveryCodes.shift()! });
};

const row = (page: Page, flowId: string) => page.locator(`tr[data-flow="${flowId}"]`);
const cell = (page: Page, flowId: string, col: string) =>
  row(page, flowId).locator(`[data-col="${col}"]`).first().innerText();

test('the list shows each flow with its trigger, status, webhook steps and the last 24 hours', async () => {
  const page = await asOwner();
  try {
    expect(await cell(page, flows.orders.id, 'trigger')).toBe(`Metric: ${metric}`);
    expect(await cell(page, flows.orders.id, 'status')).toBe('live');
    expect(await cell(page, flows.orders.id, 'webhooks')).toBe('2');
    expect(await cell(page, flows.orders.id, 'deliveries')).toBe('2');
    expect(await cell(page, flows.orders.id, 'failures')).toBe('1');
    expect(await cell(page, flows.orders.id, 'changed-by')).toBe('by owner@hookflow.test (API key)');
    expect(await cell(page, flows.vip.id, 'trigger')).toBe('List: VIP');
    expect(await cell(page, flows.vip.id, 'status')).toBe('draft');
    expect(await cell(page, flows.vip.id, 'webhooks')).toBe('0');
    expect(await cell(page, flows.birthday.id, 'trigger')).toBe('Date: birthday');
    expect(await cell(page, flows.drop.id, 'trigger')).toBe('Price drop ≥ 20%');
    expect(await row(page, flows.orders.id).locator('a[data-testid="flow-link"]').getAttribute('href')).toBe(
      `/flows/${flows.orders.id}`,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'flows-list.png'), fullPage: true });

    // The failures link opens Webhook Analytics on that flow's failing steps.
    await row(page, flows.orders.id).locator('[data-col="failures"] a').click();
    await page.waitForURL((u) => u.pathname === '/webhooks');
    const url = new URL(page.url());
    expect([url.searchParams.get('flow'), url.searchParams.get('status')]).toEqual([
      flows.orders.id,
      'failures',
    ]);
    const rows = page.locator('[data-testid="steps-table"] tbody tr[data-row]');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-row')))).toEqual([
      `${flows.orders.id}/audit`,
    ]);
    expect(await page.locator('a[aria-current="page"]', { hasText: 'Webhook Analytics' }).count()).toBe(1);
    await page.click('header a:has-text("Flows")');
    await page.waitForURL((u) => u.pathname === '/flows');

    // The list at a phone width: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(1);
  } finally {
    await page.context().close();
  }
});

test('create from the page lands on the new flow, saved as a draft by the signed-in user', async () => {
  const page = await asOwner();
  try {
    await page.fill('[data-testid="create-name"]', 'Made on the page');
    await page.selectOption('[data-testid="create-trigger"]', 'metric');
    await page.fill('[data-testid="create-metric"]', 'Started Checkout');
    await page.click('[data-testid="create-submit"]');
    await page.waitForURL(/\/flows\/flw_[0-9a-f]+$/);
    const id = new URL(page.url()).pathname.split('/').pop()!;
    const flow = await must(stack.request<PublicFlow>('GET', `/api/flows/${id}`), 200, 'read');
    expect(flow).toMatchObject({
      name: 'Made on the page',
      status: 'draft',
      trigger: { type: 'metric', metric: 'Started Checkout' },
      steps: [],
    });
    await page.goto(`${stack.apiUrl}/flows`);
    expect(await cell(page, id, 'changed-by')).toBe('by owner@hookflow.test');

    // A refused create says why, naming the field.
    await page.fill('[data-testid="create-name"]', 'No metric');
    await page.click('[data-testid="create-submit"]');
    await page
      .locator('[data-testid="flows-error"]')
      .getByText(/trigger\.metric/)
      .waitFor();
  } finally {
    await page.context().close();
  }
});

test('duplicate copies the flow as a draft whose webhook step sends the original secret header', async () => {
  const page = await asOwner();
  try {
    await row(page, flows.orders.id).locator('button[data-testid="duplicate"]').click();
    const copyRow = page.locator('tr[data-flow]', { hasText: 'Orders → CRM (copy)' });
    await copyRow.waitFor();
    const copyId = (await copyRow.getAttribute('data-flow'))!;
    expect(await cell(page, copyId, 'status')).toBe('draft');
    expect(await cell(page, copyId, 'webhooks')).toBe('2');
    expect(await cell(page, copyId, 'deliveries')).toBe('0');

    const copy = await must(stack.request<PublicFlow>('GET', `/api/flows/${copyId}`), 200, 'copy');
    expect((await stack.request('POST', '/api/flows/flw_nope/duplicate')).status).toBe(404);
    expect(copy.steps.map((s) => s.id)).toEqual(['crm', 'audit']);
    await must(stack.request('PATCH', `/api/flows/${copyId}`, { status: 'live' }), 200, 'go live');
    const before = receiver.received('/flows-crm').length;
    const started = await must(postEvent(stack, metric), 202, 'event');
    const copyRun = started.runs.find((r: RunsResponse['runs'][number]) => r.flowId === copyId);
    expect(copyRun).toBeDefined();
    const run = await waitForRun(stack, copyRun!.runId);
    expect(step(run, 'crm').status).toBe('delivered');
    const got = receiver.received('/flows-crm').slice(before);
    expect(got).toHaveLength(2); // the original's run and the copy's
    for (const r of got) expect(r.headers['x-api-key']).toBe(SECRET);
  } finally {
    await page.context().close();
  }
});

test('delete asks first; cancel keeps the flow, confirm removes it', async () => {
  const page = await asOwner();
  try {
    const dialog = page.locator('[data-testid="delete-dialog"]');
    await row(page, flows.drop.id).locator('button[data-testid="delete"]').click();
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.locator('[data-flow-name]').innerText()).toBe('Cheaper now');
    await page.click('[data-testid="delete-cancel"]');
    await dialog.waitFor({ state: 'hidden' });
    expect(await row(page, flows.drop.id).count()).toBe(1);

    await row(page, flows.drop.id).locator('button[data-testid="delete"]').click();
    await page.click('[data-testid="delete-confirm"]');
    await row(page, flows.drop.id).waitFor({ state: 'detached' });
    expect((await stack.request('GET', `/api/flows/${flows.drop.id}`)).status).toBe(404);
    await page.reload();
    expect(await row(page, flows.drop.id).count()).toBe(0);
  } finally {
    await page.context().close();
  }
});

test('an analyst sees the flows but no create, duplicate or delete', async () => {
  const page = await signedIn(people.analyst);
  try {
    expect(await row(page, flows.orders.id).count()).toBe(1);
    expect(await page.locator('[data-testid="create-flow"]').count()).toBe(0);
    expect(await page.locator('button[data-testid="duplicate"], button[data-testid="delete"]').count()).toBe(
      0,
    );
    expect(await page.locator('.sub').first().innerText()).toMatch(/Your role \(analyst\) may read flows/);
  } finally {
    await page.context().close();
  }
});

test('a manager without two-step who duplicates a flow with webhooks is sent to set it up', async () => {
  const page = await signedIn(people.manager);
  try {
    const count = (await must(stack.request<{ flows: PublicFlow[] }>('GET', '/api/flows'), 200, 'list')).flows
      .length;
    await row(page, flows.orders.id).locator('button[data-testid="duplicate"]').click();
    const reminder = page.locator('[data-testid="flows-error"] [data-testid="two-step-reminder"]');
    await reminder.waitFor();
    expect(await reminder.innerText()).toMatch(/Webhooks need two-step authentication/);
    expect(await reminder.locator('a').getAttribute('href')).toBe('/account/two-step?next=%2Fflows');
    const after = (await must(stack.request<{ flows: PublicFlow[] }>('GET', '/api/flows'), 200, 'list')).flows
      .length;
    expect(after).toBe(count);
    // A flow without webhook steps the manager may copy.
    await row(page, flows.birthday.id).locator('button[data-testid="duplicate"]').click();
    await page.locator('tr[data-flow]', { hasText: 'Birthday (copy)' }).waitFor();
    expect(await cell(page, flows.birthday.id, 'trigger')).toBe('Date: birthday');
  } finally {
    await page.context().close();
  }
});
