import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import { launchBrowser, signInThroughPage } from '../support/browser';
import {
  createLiveFlow,
  emailValueHook,
  startOneRun,
  step,
  uniqueMetric,
  waitForRun,
} from '../support/flows';

/**
 * Write-ahead attempt records on the real stack: the worker is killed (SIGKILL) while the endpoint
 * holds its request open, so the endpoint got a request whose answer hookflow never recorded.
 */

let stack: Stack;
let receiver: Receiver;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'write-ahead', caCert: pki.caCert });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

interface Detail {
  delivery: { id: string; status: string; attempts: number; possibleDuplicate: boolean };
  attempts: { attempt: number; class: string; reason: string }[];
}

test('a worker killed mid-send: the attempt shows outcome unknown, the delivery ends delivered and flagged', async () => {
  const metric = uniqueMetric('WriteAhead');
  // The first request is held open (the worker dies meanwhile); the retry is answered.
  receiver.script('/held', { action: 'hang' }, { status: 200 });
  await createLiveFlow(stack, metric, [emailValueHook('h', receiver.url('/held'))]);
  const runId = await startOneRun(stack, metric);
  await poll(
    () => Promise.resolve(receiver.received('/held').length),
    (n) => n >= 1,
    30_000,
    20,
  );
  await stack.killWorker();

  // The request is out and the worker is gone: its attempt row says so, written before the send.
  const db = await stack.openDatabase();
  try {
    const rows = await db.selectFrom('delivery_attempts').select(['attempt', 'outcome']).execute();
    expect(rows).toEqual([{ attempt: 1, outcome: 'sending' }]);
  } finally {
    await db.destroy();
  }

  await stack.startWorker();
  // The first attempt ran inside the run's workflow task (issue 18's fast path): that task times out
  // (10 s), the new worker runs the attempt again under the next number, the dead one's stays unknown.
  const run = await waitForRun(stack, runId, 90_000);
  const deliveryId = step(run, 'h').deliveryId!;
  expect(step(run, 'h').status).toBe('delivered');

  const res = await stack.request<Detail>('GET', `/api/webhooks/deliveries/${deliveryId}`);
  expect(res.status).toBe(200);
  expect(res.body.delivery).toMatchObject({ status: 'delivered', attempts: 2, possibleDuplicate: true });
  expect(res.body.attempts.map((a) => [a.attempt, a.class, a.reason])).toEqual([
    [1, 'unknown', 'outcome unknown — the endpoint may have received it'],
    [2, 'delivered', 'HTTP 200 OK'],
  ]);

  // The endpoint got it twice, both times with the same Idempotency-Key: the delivery's id.
  const got = receiver.received('/held');
  expect(got).toHaveLength(2);
  expect(got.map((r) => r.headers['idempotency-key'])).toEqual([deliveryId, deliveryId]);

  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const owner = stack.owner!;
    await signInThroughPage(page, stack.apiUrl, { ...owner, code: owner.recoveryCodes.shift()! });
    await page.goto(`${stack.apiUrl}/webhooks/deliveries/${deliveryId}`);
    expect(await page.locator('[data-testid="possible-duplicate"]').innerText()).toMatch(
      /possible duplicate.*may have received this request more than once/s,
    );
    const attempts = page.locator('ol.timeline li');
    expect(await attempts.count()).toBe(2);
    expect(await attempts.nth(0).innerText()).toMatch(/outcome unknown — the endpoint may have received it/);
    expect(await attempts.nth(0).locator('[data-testid="attempt-class"]').innerText()).toBe(
      'outcome unknown',
    );
    expect(await attempts.nth(1).locator('[data-testid="attempt-class"]').innerText()).toBe('delivered');
  } finally {
    await browser.close();
  }
}, 180_000);
