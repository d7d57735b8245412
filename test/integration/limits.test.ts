import net from 'node:net';
import type { Browser } from 'playwright-core';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { Stack } from '../harness/stack';
import type { ErrorResponse } from '../support/api-types';
import { launchBrowser, signInThroughPage } from '../support/browser';
import { createLiveFlow, startOneRun, step, uniqueMetric, waitForRun } from '../support/flows';

/** Limits on hostile input (issue 17 §3) on the real stack: the API, the worker and the pages. */

let stack: Stack;
let receiver: Receiver;
let browser: Browser | undefined;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({
    name: 'limits',
    caCert: pki.caCert,
    env: {
      HOOKFLOW_API_HEADERS_TIMEOUT_MS: '2000',
      HOOKFLOW_API_REQUEST_TIMEOUT_MS: '5000',
      HOOKFLOW_API_MAX_CONNECTIONS_PER_CLIENT: '20',
    },
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await receiver?.close();
});

const hook = (id: string, path: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'webhook',
  url: receiver.url(path),
  body: '{"email": "{{ person.email }}"}',
  ...extra,
});

const saveFlow = (steps: unknown[]) =>
  stack.request<ErrorResponse>('POST', '/api/flows', {
    name: 'hostile',
    trigger: { type: 'metric', metric: uniqueMetric('Hostile') },
    steps,
  });

test('bodies over 512 KiB get 413 and bodies nested deeper than 64 get 400, as JSON naming the limit', async () => {
  const big = await stack.request<ErrorResponse>(
    'POST',
    '/api/events',
    JSON.stringify({
      metric: 'm',
      profile: { email: 'a@example.com' },
      properties: { pad: 'x'.repeat(600_000) },
    }),
  );
  expect(big.status).toBe(413);
  expect(big.body.error).toMatchObject({
    code: 'payload_too_large',
    message: expect.stringMatching(/512 KiB/) as string,
    details: [{ path: '(body)', message: expect.stringMatching(/at most 524288 bytes/) as string }],
  });
  const deep = '{"a":'.repeat(70) + '1' + '}'.repeat(70);
  const nested = await stack.request<ErrorResponse>(
    'POST',
    '/api/events',
    `{"metric": "m", "profile": {"email": "a@example.com"}, "properties": ${deep}}`,
  );
  expect(nested.status).toBe(400);
  expect(nested.body.error.code).toBe('too_deep');
  expect(nested.body.error.details[0]!.path).toMatch(/^properties(\.a)+$/);
});

test('the API cuts a client trickling its headers, and refuses connections beyond 20 per address with 429 JSON', async () => {
  const { port } = new URL(stack.apiUrl);
  const open = () =>
    new Promise<{ socket: net.Socket; received: () => string; closedAt: Promise<number> }>(
      (resolve, reject) => {
        let data = '';
        const socket = net.connect(Number(port), '127.0.0.1', () =>
          resolve({ socket, received: () => data, closedAt }),
        );
        const closedAt = new Promise<number>((done) => socket.once('close', () => done(Date.now())));
        socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
        socket.on('error', reject);
      },
    );

  const slow = await open();
  const started = Date.now();
  slow.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => slow.socket.writable && slow.socket.write('X-Slow: 1\r\n'), 200);
  const cutAfter = (await slow.closedAt) - started;
  clearInterval(drip);
  expect(cutAfter).toBeGreaterThanOrEqual(1800);
  expect(cutAfter).toBeLessThan(4500);
  expect(slow.received()).not.toMatch(/^HTTP\/1\.1 200/);

  // The harness's own keep-alive connections count too: at most 20 are held, all told.
  const sockets = [];
  for (let i = 0; i < 25; i++) sockets.push(await open());
  await new Promise((r) => setTimeout(r, 300));
  const refused = sockets.filter((s) => s.received().startsWith('HTTP/1.1 429'));
  expect(sockets.length - refused.length).toBeLessThanOrEqual(20);
  expect(sockets.length - refused.length).toBeGreaterThanOrEqual(10);
  const body = JSON.parse(refused[0]!.received().split('\r\n\r\n')[1]!) as ErrorResponse;
  expect(body.error.code).toBe('too_many_connections');
  for (const s of sockets) s.socket.destroy();
  await new Promise((r) => setTimeout(r, 200));
  expect((await stack.request('GET', '/api/flows')).status).toBe(200);
});

test('webhook headers: too many, too long, line breaks or invisible characters are refused at save, naming the header, never echoing the value', async () => {
  const secret = 'sk_live_do_not_echo_51';
  const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`X-H${i}`, 'v']));
  const tooMany = await saveFlow([hook('h', '/h', { headers: many })]);
  expect(tooMany.status).toBe(422);
  expect(tooMany.body.error.details).toContainEqual({
    path: 'steps.0.headers',
    message: 'at most 50 headers',
  });

  const cases: [string, string, RegExp][] = [
    ['X-Long', secret + 'x'.repeat(9000), /at most 8192 characters/],
    ['X-Crlf', `${secret}\r\nX-Injected: 1`, /not a valid HTTP header value/],
    ['X-Nel', `${secret}\u0085`, /not a valid HTTP header value/],
    ['X-Del', `${secret}\u007f`, /not a valid HTTP header value/],
    ['X-Nul', `${secret}\u0000`, /not a valid HTTP header value/],
  ];
  const res = await saveFlow([
    hook('h', '/h', { headers: Object.fromEntries(cases.map(([n, v]) => [n, v])) }),
  ]);
  expect(res.status).toBe(422);
  for (const [name, , why] of cases) {
    expect(res.body.error.details).toContainEqual({
      path: `steps.0.headers.${name}`,
      message: expect.stringMatching(why) as string,
    });
  }
  expect(JSON.stringify(res.body)).not.toContain(secret);

  const badName = await saveFlow([hook('h', '/h', { headers: { 'X-Bad\r\nName': 'v' } })]);
  expect(badName.status).toBe(422);
  expect(badName.body.error.details[0]!.path).toBe('steps.0.headers.X-Bad\r\nName');
  expect(badName.body.error.details[0]!.message).toMatch(/not a valid HTTP header name/);
});

test('templates that read constructor or call functions are refused at save, pinned to the body with line and column', async () => {
  const res = await saveFlow([
    hook('a', '/a', { body: '{\n  "x": "{{ person.constructor.constructor("return process")() }}"\n}' }),
    hook('b', '/b', { body: '{"y": "{{ "".constructor }}"}' }),
  ]);
  expect(res.status).toBe(422);
  const details = res.body.error.details as {
    path: string;
    message: string;
    line?: number;
    column?: number;
  }[];
  expect(details).toContainEqual({
    path: 'steps.0.body',
    message: expect.stringMatching(
      /line 2, column 19\): "constructor" may not be read in a template/,
    ) as string,
    line: 2,
    column: 19,
  });
  expect(details).toContainEqual(
    expect.objectContaining({
      path: 'steps.1.body',
      message: expect.stringMatching(/"constructor" may not be read/) as string,
    }),
  );
});

test('prototype keys in an event and its profile reach nothing, and the delivery goes through', async () => {
  const metric = uniqueMetric('Polluting');
  await createLiveFlow(stack, metric, [
    hook('p', '/polluted', {
      body: '{"value": {{ event.value }}, "ok": "{{ person.ok }}", "leak": "{{ event.polluted }}{{ person.polluted }}{{ event.a.polluted }}"}',
    }),
  ]);
  const posted = await stack.request<{ runs: { runId: string }[] }>(
    'POST',
    '/api/events',
    `{"metric": ${JSON.stringify(metric)},
      "profile": {"email": "proto@example.com",
        "properties": {"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "ok": 1}},
      "properties": {"__proto__": {"polluted": true}, "value": 5, "a": {"prototype": {"polluted": 1}}}}`,
  );
  expect(posted.status).toBe(202);
  const run = await waitForRun(stack, posted.body.runs[0]!.runId);
  expect(step(run, 'p')).toMatchObject({ status: 'delivered' });
  expect(JSON.parse(receiver.received('/polluted').at(-1)!.body)).toEqual({ value: 5, ok: '1', leak: '' });
  const found = await stack.request<{ profiles: { properties: Record<string, unknown> }[] }>(
    'GET',
    '/api/profiles?email=proto%40example.com',
  );
  expect(found.body.profiles[0]!.properties).toEqual({ ok: 1 });
});

test('a hostile endpoint: its HTML and script show as text on the delivery page, and nothing runs', async () => {
  const payload =
    '<script>window.__pwned = 1; document.title = "pwned"</script><img src=x onerror="window.__pwned = 2">';
  receiver.script('/hostile', { status: 400, headers: { 'content-type': 'text/html' }, body: payload });
  const metric = uniqueMetric('Hostile Endpoint');
  await createLiveFlow(stack, metric, [hook('x', '/hostile', { retry: { maxAttempts: 1 } })]);
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);
  const deliveryId = step(run, 'x').deliveryId!;
  expect(deliveryId).toBeDefined();

  browser = await launchBrowser();
  const page = await browser.newPage();
  const owner = stack.owner!;
  await signInThroughPage(page, stack.apiUrl, { ...owner, code: owner.recoveryCodes.shift()! });
  await page.goto(`${stack.apiUrl}/webhooks/deliveries/${deliveryId}`);
  await page.locator('pre.excerpt').waitFor();
  expect(await page.locator('pre.excerpt').textContent()).toContain(payload);
  await page.waitForTimeout(300);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(await page.title()).not.toBe('pwned');
  expect(await page.locator('pre.excerpt script, pre.excerpt img').count()).toBe(0);
});
