import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { FAST_RETRY_ENV, poll, Stack } from '../harness/stack';
import { startOneRun, step, uniqueMetric, waitForRun } from '../support/flows';

/**
 * The secrets guarantee, end to end: after a real stack saved webhook steps with secret header
 * values and signing secrets, delivered, failed against an endpoint that echoes the secrets back,
 * resent, test-sent, previewed, duplicated and rotated, nothing hookflow lets anyone observe holds
 * a secret: not its API answers (beyond the one answer that shows a new signing secret once),
 * pages, API and worker logs, the Temporal history of every workflow, or the database file.
 */

let stack: Stack;
let receiver: Receiver;
let connection: Connection;

/** A value no other text contains by chance. */
const unique = (label: string) => `${label}_${crypto.randomBytes(12).toString('hex')}`;
const API_KEY_VALUE = unique('sk_live');
const BEARER_VALUE = `Bearer ${unique('tok')}`;
const SHARED_SECRET = unique('shared');

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({
    name: 'secrets-observable',
    caCert: pki.caCert,
    env: FAST_RETRY_ENV,
    record: true,
  });
  connection = await Connection.connect({ address: stack.temporalAddress });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await stack?.stop();
  await receiver?.close();
});

interface SavedFlow {
  id: string;
  steps: { id: string; headers: Record<string, string> }[];
  signingSecrets?: { stepId: string; secret: string }[];
}

/** Every string and byte array in a Temporal history, bytes decoded as UTF-8 (payloads are JSON). */
function historyText(value: unknown, out: string[] = []): string[] {
  if (value === null || value === undefined) return out;
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array)
    out.push(Buffer.from(value).toString('utf8'), Buffer.from(value).toString('base64'));
  else if (Array.isArray(value)) for (const v of value) historyText(v, out);
  else if (typeof value === 'object') for (const v of Object.values(value)) historyText(v, out);
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    out.push(String(value));
  return out;
}

/** Every workflow's history in the stack's namespace, as text. */
async function temporalHistories(): Promise<{ count: number; text: string }> {
  const client = new Client({ connection, namespace: stack.namespace });
  const parts: string[] = [];
  let count = 0;
  for await (const wf of client.workflow.list()) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    parts.push(...historyText(history));
    count++;
  }
  return { count, text: parts.join('\n') };
}

/** The database as stored: the SQLite file (and its WAL) byte for byte, or every row of every table. */
async function databaseText(): Promise<{ what: string; text: string }> {
  const file = path.join(stack.dir, 'hookflow.sqlite');
  if (fs.existsSync(file)) {
    const files = [file, `${file}-wal`].filter((f) => fs.existsSync(f));
    // latin1 keeps every byte as one character, so a secret stored in plain text anywhere is found.
    return {
      what: files.join(', '),
      text: files.map((f) => fs.readFileSync(f).toString('latin1')).join('\n'),
    };
  }
  const db = await stack.openDatabase();
  try {
    const parts: string[] = [];
    for (const table of await db.introspection.getTables()) {
      const rows = await sql<Record<string, unknown>>`select * from ${sql.table(table.name)}`.execute(db);
      parts.push(JSON.stringify(rows.rows));
    }
    return { what: 'every table', text: parts.join('\n') };
  } finally {
    await db.destroy();
  }
}

/** A page as the signed-in owner's browser fetches it. */
async function pageText(urlPath: string): Promise<string> {
  const res = await fetch(`${stack.apiUrl}${urlPath}`, {
    headers: { cookie: `hookflow_session=${stack.owner!.session.token}` },
  });
  expect([urlPath, res.status]).toEqual([urlPath, 200]);
  return res.text();
}

test('no secret header value or signing secret is in any answer, page, log, history or the database', async () => {
  const metric = uniqueMetric('Secret');
  // Both endpoints answer with the secret headers they received (one accepting, one refusing):
  // the response excerpts kept must not carry them.
  receiver.script('/signed', {
    status: 200,
    body: `ok; you sent x-api-key=${API_KEY_VALUE} and authorization=${BEARER_VALUE}`,
  });
  receiver.script('/echo', { status: 400, body: `rejected; you sent x-shared=${SHARED_SECRET}` });
  const created = await stack.request<SavedFlow>('POST', '/api/flows', {
    name: 'flow with secrets',
    trigger: { type: 'metric', metric },
    status: 'live',
    steps: [
      {
        id: 'signed',
        type: 'webhook',
        url: receiver.url('/signed'),
        body: '{"email": "{{ person.email }}"}',
        headers: { 'X-Api-Key': API_KEY_VALUE, Authorization: BEARER_VALUE },
      },
      {
        id: 'echo',
        type: 'webhook',
        url: receiver.url('/echo'),
        body: '{"email": "{{ person.email }}"}',
        headers: { 'X-Shared': SHARED_SECRET },
        signing: false,
      },
    ],
  });
  expect(created.status).toBe(201);
  const flow = created.body;
  const signingSecrets = flow.signingSecrets!.map((s) => s.secret);
  expect(signingSecrets).toHaveLength(1);

  // Deliver: one delivered (signed, with both secret headers), one skipped by the echoing endpoint.
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);
  expect([step(run, 'signed').status, step(run, 'echo').status]).toEqual(['delivered', 'skipped']);
  const sent = receiver.received('/signed').at(-1)!;
  expect([sent.headers['x-api-key'], sent.headers.authorization]).toEqual([API_KEY_VALUE, BEARER_VALUE]);
  expect(receiver.received('/echo').at(-1)!.headers['x-shared']).toBe(SHARED_SECRET);

  // Resend the skipped delivery and wait for it; a test send and a preview of each step.
  const skippedId = step(run, 'echo').deliveryId!;
  const resent = await stack.request<{ deliveryId: string }>(
    'POST',
    `/api/webhooks/deliveries/${skippedId}/resend`,
    {},
  );
  expect(resent.status).toBe(202);
  await poll(
    () =>
      stack.request<{ delivery: { status: string } }>(
        'GET',
        `/api/webhooks/deliveries/${resent.body.deliveryId}`,
      ),
    (r) => r.body.delivery.status === 'skipped',
  );
  for (const id of ['signed', 'echo']) {
    expect((await stack.request('POST', `/api/flows/${flow.id}/steps/${id}/test`, {})).status).toBe(200);
    expect((await stack.request('POST', `/api/flows/${flow.id}/steps/${id}/preview`, {})).status).toBe(200);
  }
  // Save the steps as read back (masked values keep the secrets), duplicate, rotate the signing secret.
  const read = await stack.request<SavedFlow>('GET', `/api/flows/${flow.id}`);
  expect((await stack.request('PATCH', `/api/flows/${flow.id}`, { steps: read.body.steps })).status).toBe(
    200,
  );
  const copy = await stack.request<SavedFlow>('POST', `/api/flows/${flow.id}/duplicate`, {});
  expect(copy.status).toBe(201);
  const rotated = await stack.request<{ secret: string }>(
    'POST',
    `/api/flows/${flow.id}/steps/signed/signing-secret/rotate`,
    {},
  );
  expect(rotated.status).toBe(200);
  signingSecrets.push(rotated.body.secret);
  // One more delivery, signed with both secrets during the grace period.
  await waitForRun(stack, await startOneRun(stack, metric));

  // Reads of everything the API shows about these flows and deliveries.
  const deliveries = await stack.request<{ deliveries: { id: string }[] }>(
    'GET',
    `/api/webhooks/deliveries?flowId=${flow.id}&limit=100`,
  );
  for (const d of deliveries.body.deliveries) await stack.request('GET', `/api/webhooks/deliveries/${d.id}`);
  await stack.request('GET', `/api/runs/${runId}`);
  await stack.request('GET', `/api/flows/${copy.body.id}`);
  await stack.request('GET', '/api/flows');
  await stack.request('GET', `/api/flows/${flow.id}/variables`);
  await stack.request('GET', '/api/webhooks/stats');
  await stack.requestAs(stack.owner!.session.token, 'GET', '/api/audit');

  // The answers, except the two fields that show a new signing secret once (at save and at rotation).
  const answers = stack.recorded().map((r) => {
    const body = r.body as Record<string, unknown> | undefined;
    if (body && typeof body === 'object') {
      if ('signingSecrets' in body) delete body.signingSecrets;
      if (r.path.endsWith('/signing-secret/rotate')) delete body.secret;
    }
    return JSON.stringify(r);
  });
  expect(answers.length).toBeGreaterThan(20);

  const pages = await Promise.all(
    [
      '/flows',
      `/flows/${flow.id}`,
      `/flows/${copy.body.id}`,
      '/webhooks',
      `/webhooks/steps/${flow.id}/signed`,
      `/webhooks/steps/${flow.id}/echo`,
      ...deliveries.body.deliveries.map((d) => `/webhooks/deliveries/${d.id}`),
    ].map(pageText),
  );
  const histories = await temporalHistories();
  expect(histories.count).toBeGreaterThanOrEqual(3); // the two runs and the resend, at least
  const database = await databaseText();

  const observable: Record<string, string> = {
    'API answers': answers.join('\n'),
    pages: pages.join('\n'),
    'API and worker logs': stack.logs,
    [`Temporal history of ${histories.count} workflows`]: histories.text,
    [`database (${database.what})`]: database.text,
  };
  // Each secret in full, and the key part of a signing secret (after `whsec_`) alone.
  const secrets = [
    API_KEY_VALUE,
    BEARER_VALUE,
    BEARER_VALUE.slice('Bearer '.length),
    SHARED_SECRET,
    ...signingSecrets,
    ...signingSecrets.map((s) => s.slice('whsec_'.length)),
  ];
  const hits: string[] = [];
  for (const [where, text] of Object.entries(observable)) {
    expect([where, text.length > 0]).toEqual([where, true]);
    for (const secret of secrets) if (text.includes(secret)) hits.push(`${where}: ${secret.slice(0, 12)}…`);
  }
  expect(hits).toEqual([]);

  // The check can find what it looks for: the flow id and the step URL are in each place that shows them.
  expect(observable['API answers']).toContain(flow.id);
  expect(observable.pages).toContain(flow.id);
  // (Payloads may be encrypted by a codec; the task queue is history metadata, in clear either way.)
  expect(histories.text).toContain(stack.taskQueue);
  expect(database.text).toContain(flow.id);
}, 180_000);
