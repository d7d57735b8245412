import { Client, Connection } from '@temporalio/client';
import { Webhook } from 'standardwebhooks';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import type { ReceivedRequest } from '../harness/receiver';
import { Stack } from '../harness/stack';
import { createLiveFlow, startOneRun, step, uniqueMetric, waitForRun } from '../support/flows';

/** Signed requests (Standard Webhooks) on the real stack, checked with the reference implementation. */

let stack: Stack;
let receiver: Receiver;
let connection: Connection;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'signing', caCert: pki.caCert });
  connection = await Connection.connect({ address: stack.temporalAddress });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await stack?.stop();
  await receiver?.close();
});

interface SavedFlow {
  id: string;
  steps: { id: string; signing: boolean; signingSecret?: string }[];
  signingSecrets?: { stepId: string; secret: string }[];
}

const hook = (id: string, path: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'webhook',
  url: receiver.url(path),
  body: '{"email": "{{ person.email }}", "total": {{ event.value }}}',
  ...extra,
});

/** The Standard Webhooks headers of a received request, as a receiver passes them to `verify`. */
const signed = (req: ReceivedRequest) => ({
  'webhook-id': String(req.headers['webhook-id']),
  'webhook-timestamp': String(req.headers['webhook-timestamp']),
  'webhook-signature': String(req.headers['webhook-signature']),
});

async function runOnce(metric: string, path: string): Promise<{ runId: string; req: ReceivedRequest }> {
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);
  expect(step(run, 'signed')).toMatchObject({ status: 'delivered' });
  const req = receiver.received(path).at(-1)!;
  expect(req.headers['webhook-id']).toBe(step(run, 'signed').deliveryId);
  return { runId, req };
}

async function historyJson(runId: string): Promise<string> {
  const client = new Client({ connection, namespace: stack.namespace });
  return JSON.stringify(await client.workflow.getHandle(runId).fetchHistory());
}

test('deliveries are signed with the secret shown once at save; rotation signs with both secrets', async () => {
  const metric = uniqueMetric('Signed Order');
  const flow = (await createLiveFlow(stack, metric, [
    hook('signed', '/signed'),
    hook('plain', '/plain', { signing: false }),
  ])) as unknown as SavedFlow;

  // Shown once, in full, for the step that signs only.
  expect(flow.signingSecrets?.map((s) => s.stepId)).toEqual(['signed']);
  const secret = flow.signingSecrets![0]!.secret;
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  const keyPart = secret.slice('whsec_'.length);
  expect(flow.steps.map((s) => s.signing)).toEqual([true, false]);
  expect(flow.steps[0]!.signingSecret).toContain('••••');
  expect(JSON.stringify(flow.steps)).not.toContain(keyPart);

  const before = Math.floor(Date.now() / 1000);
  const { runId, req } = await runOnce(metric, '/signed');
  const ts = Number(req.headers['webhook-timestamp']);
  expect(ts).toBeGreaterThanOrEqual(before - 1);
  expect(ts).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  expect(req.headers['webhook-id']).toBe(req.headers['idempotency-key']);
  expect(String(req.headers['webhook-signature'])).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  expect(new Webhook(secret).verify(req.body, signed(req))).toEqual({
    email: 'ada@example.com',
    total: 120.5,
  });
  expect(() => new Webhook(secret).verify(req.body.replace('120.5', '1205'), signed(req))).toThrow();
  // A step with signing off sends no signature.
  const plain = receiver.received('/plain').at(-1)!;
  expect(plain.headers['webhook-signature']).toBeUndefined();

  // Never again: not in a read of the flow, nor in the run's Temporal history.
  const read = await stack.request<SavedFlow>('GET', `/api/flows/${flow.id}`);
  expect(read.status).toBe(200);
  expect(read.body.signingSecrets).toBeUndefined();
  expect(read.body.steps[0]).toMatchObject({ signing: true, signingSecret: flow.steps[0]!.signingSecret });
  expect(JSON.stringify(read.body)).not.toContain(keyPart);
  expect(await historyJson(runId)).not.toContain(keyPart);

  // Saving the steps as read keeps the secret (the masked value is sent back).
  const resaved = await stack.request<SavedFlow>('PATCH', `/api/flows/${flow.id}`, {
    steps: read.body.steps,
  });
  expect(resaved.status).toBe(200);
  expect(resaved.body.signingSecrets).toBeUndefined();
  expect(resaved.body.steps[0]!.signingSecret).toBe(flow.steps[0]!.signingSecret);

  // Rotation: the new secret once, the old one still valid for the grace period (24 h by default).
  const rotated = await stack.request<{ secret: string; previousValidUntil: string; stepId: string }>(
    'POST',
    `/api/flows/${flow.id}/steps/signed/signing-secret/rotate`,
  );
  expect(rotated.status).toBe(200);
  const next = rotated.body.secret;
  expect(next).toMatch(/^whsec_/);
  expect(next).not.toBe(secret);
  const grace = Date.parse(rotated.body.previousValidUntil) - Date.now();
  expect(grace).toBeGreaterThan(86_400_000 - 60_000);
  expect(grace).toBeLessThanOrEqual(86_400_000);

  const after = await runOnce(metric, '/signed');
  const signatures = String(after.req.headers['webhook-signature']).split(' ');
  expect(signatures).toHaveLength(2);
  expect(signatures.every((s) => s.startsWith('v1,'))).toBe(true);
  const payload = { email: 'ada@example.com', total: 120.5 };
  expect(new Webhook(next).verify(after.req.body, signed(after.req))).toEqual(payload);
  expect(new Webhook(secret).verify(after.req.body, signed(after.req))).toEqual(payload);
  const tampered = after.req.body.replace('ada@', 'eve@');
  expect(() => new Webhook(next).verify(tampered, signed(after.req))).toThrow();
  expect(() => new Webhook(secret).verify(tampered, signed(after.req))).toThrow();

  const reread = await stack.request('GET', `/api/flows/${flow.id}`);
  expect(JSON.stringify(reread.body)).not.toContain(next.slice('whsec_'.length));
  expect(await historyJson(after.runId)).not.toContain(next.slice('whsec_'.length));

  // A webhook change in the audit log, by field name only.
  const audit = await stack.request<{ entries: { action: string; stepId: string; fields: string[] }[] }>(
    'GET',
    `/api/audit?flowId=${flow.id}`,
  );
  expect(audit.status).toBe(200);
  expect(JSON.stringify(audit.body)).toContain('signing.secret');
  expect(JSON.stringify(audit.body)).not.toContain(next.slice('whsec_'.length));
}, 180_000);

test('a run started before a rotation signs with the rotated secrets when it delivers', async () => {
  const metric = uniqueMetric('Delayed Signed Order');
  const flow = (await createLiveFlow(stack, metric, [
    { id: 'wait', type: 'delay', seconds: 3 },
    hook('signed', '/delayed'),
  ])) as unknown as SavedFlow;
  const old = flow.signingSecrets![0]!.secret;
  const runId = await startOneRun(stack, metric);
  // Rotated while the run waits: it started on the version before, and delivers after.
  const rotated = await stack.request<{ secret: string }>(
    'POST',
    `/api/flows/${flow.id}/steps/signed/signing-secret/rotate`,
  );
  expect(rotated.status).toBe(200);
  const run = await waitForRun(stack, runId);
  expect(step(run, 'signed')).toMatchObject({ status: 'delivered' });
  const req = receiver.received('/delayed').at(-1)!;
  expect(String(req.headers['webhook-signature']).split(' ')).toHaveLength(2);
  expect(new Webhook(rotated.body.secret).verify(req.body, signed(req))).toBeTruthy();
  expect(new Webhook(old).verify(req.body, signed(req))).toBeTruthy();
});

test('a retried attempt has the same webhook-id, its own timestamp, and verifies', async () => {
  receiver.script('/retried', { status: 500 }, { status: 200 });
  const metric = uniqueMetric('Retried Signed Order');
  const flow = (await createLiveFlow(stack, metric, [
    hook('signed', '/retried', { retry: { maxAttempts: 3, initialIntervalMs: 1000, maxIntervalMs: 1000 } }),
  ])) as unknown as SavedFlow;
  const secret = flow.signingSecrets![0]!.secret;
  const runId = await startOneRun(stack, metric);
  const run = await waitForRun(stack, runId);
  expect(step(run, 'signed')).toMatchObject({ status: 'delivered', attempts: 2 });
  const [first, second] = receiver.received('/retried');
  expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
  expect(Number(second!.headers['webhook-timestamp'])).toBeGreaterThan(
    Number(first!.headers['webhook-timestamp']),
  );
  for (const req of [first!, second!]) expect(new Webhook(secret).verify(req.body, signed(req))).toBeTruthy();
});

test('rotating a step that does not sign, or that does not exist, is refused with a clear error', async () => {
  const metric = uniqueMetric('Unsigned Order');
  const flow = (await createLiveFlow(stack, metric, [
    hook('plain', '/unsigned', { signing: false }),
  ])) as unknown as SavedFlow;
  expect(flow.signingSecrets).toBeUndefined();
  const off = await stack.request<{ error: { code: string; message: string } }>(
    'POST',
    `/api/flows/${flow.id}/steps/plain/signing-secret/rotate`,
  );
  expect(off.status).toBe(409);
  expect(off.body.error).toMatchObject({ code: 'signing_off' });
  const missing = await stack.request<{ error: { code: string } }>(
    'POST',
    `/api/flows/${flow.id}/steps/nope/signing-secret/rotate`,
  );
  expect(missing.status).toBe(404);
  expect(missing.body.error.code).toBe('not_found');
});

test('rotation is a webhook change: an analyst and a manager without two-step are refused', async () => {
  const metric = uniqueMetric('Guarded Order');
  const flow = (await createLiveFlow(stack, metric, [hook('signed', '/guarded')])) as unknown as SavedFlow;
  const signIn = async (role: string): Promise<string> => {
    const email = `${role}-signing@example.com`;
    const password = `password for ${email}`;
    const created = await stack.requestAs(stack.owner!.session.token, 'POST', '/api/users', {
      email,
      password,
      role,
    });
    expect(created.status).toBe(201);
    const session = await stack.requestAs<{ token: string }>(undefined, 'POST', '/api/auth/sign-in', {
      email,
      password,
    });
    return session.body.token;
  };
  const url = `/api/flows/${flow.id}/steps/signed/signing-secret/rotate`;
  const analyst = await stack.requestAs<{ error: { code: string } }>(await signIn('analyst'), 'POST', url);
  expect(analyst.status).toBe(403);
  expect(analyst.body.error.code).toBe('role_forbidden');
  const manager = await stack.requestAs<{ error: { code: string } }>(await signIn('manager'), 'POST', url);
  expect(manager.status).toBe(403);
  expect(manager.body.error.code).toBe('two_step_required');
  // Nothing changed: the flow is still at the version it was saved with.
  const read = await stack.request<{ version: number }>('GET', `/api/flows/${flow.id}`);
  expect(read.body.version).toBe(1);
});
