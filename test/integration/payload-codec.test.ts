import type { Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Client, Connection } from '@temporalio/client';
import type { Browser } from 'playwright-core';
import { ENCRYPTED_ENCODING, dataConverterOf } from '../../src/temporal/payload-codec';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { Stack } from '../harness/stack';
import { launchBrowser, signInThroughPage } from '../support/browser';
import {
  createLiveFlow,
  emailValueHook,
  startOneRun,
  step,
  uniqueMetric,
  waitForRun,
} from '../support/flows';

/** Issue 16 §3: customer data encrypted in Temporal, decoded for members through the codec endpoint. */

let stack: Stack;
let receiver: Receiver;
let connection: Connection;
let client: Client;
let runId: string;

const EMAIL = 'grace.hopper.codec@example.com';
const VALUE = 4321.77;
const ANALYST = { email: 'analyst.codec@example.com', password: 'an analyst password for codec' };

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'payload-codec', caCert: pki.caCert, ui: true });
  connection = await Connection.connect({ address: stack.temporalAddress });
  client = new Client({ connection, namespace: stack.namespace });
  const created = await stack.requestAs(stack.owner!.session.token, 'POST', '/api/users', {
    ...ANALYST,
    role: 'analyst',
  });
  expect(created.status).toBe(201);
  const metric = uniqueMetric('Codec Order');
  await createLiveFlow(stack, metric, [emailValueHook('w', receiver.url('/codec'))]);
  runId = await startOneRun(stack, metric, {
    profile: { email: EMAIL, properties: { loyalty_id: 'LOYAL-CODEC-77' } },
    properties: { value: VALUE },
  });
  expect(step(await waitForRun(stack, runId), 'w').status).toBe('delivered');
}, 180_000);

afterAll(async () => {
  await connection?.close();
  await stack?.stop();
  await receiver?.close();
});

/** Every `payloads` list in a history. */
function payloadLists(node: unknown, found: Payload[][] = []): Payload[][] {
  if (Array.isArray(node)) for (const x of node) payloadLists(x, found);
  else if (node && typeof node === 'object' && !(node instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'payloads' && Array.isArray(v)) found.push(v as Payload[]);
      else payloadLists(v, found);
    }
  }
  return found;
}

/** The history as exported (JSON, payload bytes in base64) plus every payload's bytes as text. */
function readable(payloads: Payload[], json: string): string {
  const bytes = payloads.map((p) =>
    [p.data, ...Object.values(p.metadata ?? {})]
      .map((b) => Buffer.from(b ?? []).toString('latin1'))
      .join(' '),
  );
  return `${json}\n${bytes.join('\n')}`;
}

const toProtocol = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

test('the exported history of a delivery holds no profile email or event value in clear, only encrypted payloads', async () => {
  const history = await client.workflow.getHandle(runId).fetchHistory();
  const payloads = payloadLists(history).flat();
  expect(payloads.length).toBeGreaterThan(3);
  // The SDK's own bookkeeping in markers (patch ids, a local activity's attempt and times) is
  // written by its core, outside the data converter; everything hookflow passes is encrypted.
  const ours = (history.events ?? []).flatMap((e) =>
    payloadLists(
      e.markerRecordedEventAttributes ? e.markerRecordedEventAttributes.details?.result : e,
    ).flat(),
  );
  // The run's input, the first attempt's result (its local activity's marker) and the run's result.
  expect(ours.length).toBeGreaterThanOrEqual(3);
  const encodings = new Set(ours.map((p) => new TextDecoder().decode(p.metadata?.encoding ?? undefined)));
  expect(encodings).toEqual(new Set([ENCRYPTED_ENCODING]));
  const exported = readable(payloads, historyToJSON(history));
  expect(exported).not.toContain(EMAIL);
  expect(exported).not.toContain('LOYAL-CODEC-77');
  expect(exported).not.toContain(String(VALUE));

  // The check can fail: the same payloads decoded with the stack's keys hold both values.
  const decoded = await stack.payloadCodec().decode(payloads);
  const clear = readable(decoded, '');
  expect(clear).toContain(EMAIL);
  expect(clear).toContain(String(VALUE));
  // And a client with the codec reads the run's result as usual.
  const reader = new Client({
    connection,
    namespace: stack.namespace,
    dataConverter: dataConverterOf(stack.payloadCodec()),
  });
  await expect(reader.workflow.getHandle(runId).result()).resolves.toBeDefined();
});

describe('the codec endpoint', () => {
  let input: ReturnType<typeof toProtocol>;
  beforeAll(async () => {
    const history = await client.workflow.getHandle(runId).fetchHistory();
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
    input = toProtocol(started.input!.payloads![0]!);
  });

  const codec = (op: string, headers: Record<string, string>, body: unknown = { payloads: [input] }) =>
    fetch(`${stack.apiUrl}/codec/${op}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  test('refuses an anonymous caller (401) and a key without the run-reading scope (403)', async () => {
    const anonymous = await codec('decode', {});
    expect(anonymous.status).toBe(401);
    const refused = (await anonymous.json()) as { error: { code: string } };
    expect(refused.error.code).toBe('unauthenticated');
    expect(JSON.stringify(refused)).not.toContain(EMAIL);

    const key = await stack.requestAs<{ key: string }>(stack.owner!.session.token, 'POST', '/api/keys', {
      name: 'ingest only',
      scopes: ['events:write'],
    });
    const ingestOnly = await codec('decode', { authorization: `Bearer ${key.body.key}` });
    expect(ingestOnly.status).toBe(403);
    expect(((await ingestOnly.json()) as { error: { code: string } }).error.code).toBe('scope_missing');
  });

  test('decodes for a signed-in analyst (session cookie from the Web UI origin, no CSRF token), and encodes back', async () => {
    const session = await stack.requestAs<{ token: string }>(undefined, 'POST', '/api/auth/sign-in', ANALYST);
    const cookie = `hookflow_session=${session.body.token}`;
    const res = await codec('decode', { cookie, origin: stack.uiUrl!, 'x-namespace': 'default' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(stack.uiUrl);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    const decoded = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(decoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    const value = JSON.parse(Buffer.from(decoded.payloads[0]!.data, 'base64').toString()) as unknown;
    expect(JSON.stringify(value)).toContain(EMAIL);

    const encoded = await codec('encode', { cookie }, decoded);
    expect(encoded.status).toBe(200);
    const again = (await encoded.json()) as { payloads: { metadata: Record<string, string> }[] };
    expect(Buffer.from(again.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(ENCRYPTED_ENCODING);

    // Another site's page cannot use the cookie, and malformed bodies are a 422, not a 500.
    const elsewhere = await codec('decode', { cookie, origin: 'http://evil.example' });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
    const malformed = await codec('decode', { cookie }, { payloads: [{ data: 'not base64!' }] });
    expect(malformed.status).toBe(422);
  });

  test('answers the CORS preflight for the Web UI origin only', async () => {
    const preflight = (origin: string) =>
      fetch(`${stack.apiUrl}/codec/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
      });
    const ui = await preflight(stack.uiUrl!);
    expect(ui.status).toBe(204);
    expect(ui.headers.get('access-control-allow-origin')).toBe(stack.uiUrl);
    expect(ui.headers.get('access-control-allow-credentials')).toBe('true');
    expect(ui.headers.get('access-control-allow-headers')).toMatch(
      /content-type.*x-namespace.*authorization/,
    );
    const other = await preflight('http://127.0.0.1:1');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('the Temporal Web UI', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A browser whose UI Data Encoder setting is hookflow's endpoint, with cross-origin credentials. */
  async function uiContext() {
    const context = await browser.newContext();
    await context.addInitScript((url: string) => {
      localStorage.setItem('endpoint', JSON.stringify(url));
      localStorage.setItem('includeCredentials', 'true');
      localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
    }, `${stack.apiUrl}/codec`);
    return context;
  }

  test('the dev server starts its UI with the codec endpoint configured', async () => {
    const settings = (await (await fetch(`${stack.uiUrl!}/api/v1/settings`)).json()) as {
      Codec: { Endpoint: string };
    };
    expect(settings.Codec.Endpoint).toBe(`${stack.apiUrl}/codec`);
  });

  const workflowPage = () => `${stack.uiUrl!}/namespaces/default/workflows/${runId}`;

  test('shows the decoded workflow input to a member signed in to hookflow', async () => {
    const context = await uiContext();
    const page = await context.newPage();
    await signInThroughPage(page, stack.apiUrl, ANALYST);
    const decoded = page.waitForResponse((r) => r.url().endsWith('/codec/decode'));
    await page.goto(workflowPage());
    expect((await decoded).status()).toBe(200);
    await page.getByText(EMAIL).first().waitFor({ timeout: 30_000 });
    expect(await page.locator('body').innerText()).toContain(EMAIL);
    await context.close();
  }, 90_000);

  test('shows nothing decoded to a browser not signed in to hookflow', async () => {
    const context = await uiContext();
    const page = await context.newPage();
    const refused = page.waitForResponse((r) => r.url().endsWith('/codec/decode'));
    await page.goto(workflowPage());
    expect((await refused).status()).toBe(401);
    await page.getByText(runId).first().waitFor({ timeout: 30_000 });
    await page.waitForLoadState('networkidle');
    expect(await page.locator('body').innerText()).not.toContain(EMAIL);
    await context.close();
  }, 90_000);
});
