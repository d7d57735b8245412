/**
 * Re-captures the workflow histories the replay suite replays (test/replay/histories/*.json),
 * from real runs on the real stack. Runs start as `flowRunV2` (issue 18's fast path): its fixtures
 * are `fast-*.json`; those of `flowRun`, which no run starts any more but runs in flight still
 * use, stay as they were recorded. Skipped unless HOOKFLOW_CAPTURE_HISTORIES=1; run it with
 * `npm run replay:capture` after a deliberate change to workflow code (see README, "Changing
 * workflow code safely"), then commit the fixtures it rewrites.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporalCliPath } from '../../src/temporal/dev-server';
import { dataConverterOf } from '../../src/temporal/payload-codec';
import { REPLAY_SECRET_KEYS } from '../support/replay-key';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import {
  createLiveFlow,
  emailValueHook,
  startOneRun,
  step,
  uniqueMetric,
  waitForRun,
} from '../support/flows';

const HISTORIES = path.join(__dirname, 'histories');
const capture = process.env.HOOKFLOW_CAPTURE_HISTORIES === '1' ? describe : describe.skip;

capture('capture workflow histories for the replay suite', () => {
  let stack: Stack;
  let receiver: Receiver;
  let client: Client;

  const hook = (id: string, urlPath: string) => emailValueHook(id, receiver.url(urlPath));

  beforeAll(async () => {
    const pki = createTestPki();
    receiver = await Receiver.start(pki.good);
    // Captured under the fixed replay key: the fixtures keep their payloads encrypted, as Temporal stores them.
    stack = await Stack.start({
      name: 'capture',
      caCert: pki.caCert,
      env: { HOOKFLOW_SECRET_KEYS: REPLAY_SECRET_KEYS },
    });
    client = new Client({
      connection: await Connection.connect({ address: stack.server.address }),
      dataConverter: dataConverterOf(stack.payloadCodec()),
    });
    fs.mkdirSync(HISTORIES, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await client?.connection.close();
    await stack?.stop();
    await receiver?.close();
  });

  /** Waits for the workflow to close and writes its history as `<name>.json`. */
  async function save(name: string, workflowId: string): Promise<void> {
    const handle = client.workflow.getHandle(workflowId);
    await handle.result();
    // The CLI writes the JSON history format every Temporal tool and SDK reads (historyFromJSON).
    const json = execFileSync(
      temporalCliPath(),
      [
        'workflow',
        'show',
        '--workflow-id',
        workflowId,
        '--output',
        'json',
        '--address',
        stack.server.address,
      ],
      { encoding: 'utf8' },
    );
    fs.writeFileSync(path.join(HISTORIES, `${name}.json`), `${JSON.stringify(JSON.parse(json), null, 2)}\n`);
  }

  /** One flow, one event: the run's id once it completed. */
  async function runFlow(label: string, steps: unknown[], properties?: Record<string, unknown>) {
    const metric = uniqueMetric(label);
    await createLiveFlow(stack, metric, steps);
    const runId = await startOneRun(stack, metric, properties ? { properties } : {});
    return waitForRun(stack, runId);
  }

  test('a delivered webhook', async () => {
    const run = await runFlow('Delivered', [hook('w', '/ok')]);
    expect(step(run, 'w').status).toBe('delivered');
    await save('fast-delivered', run.runId);
  });

  test('retries, then delivered', async () => {
    receiver.script('/flaky', { status: 503 }, { status: 500 }, { status: 200 });
    const run = await runFlow('Retried', [hook('w', '/flaky')]);
    expect(step(run, 'w')).toMatchObject({ status: 'delivered', attempts: 3 });
    await save('fast-retried-delivered', run.runId);
  });

  test('failed after every attempt', async () => {
    receiver.script('/down', { status: 503 });
    const run = await runFlow('Failed', [hook('w', '/down')]);
    expect(step(run, 'w')).toMatchObject({ status: 'failed', attempts: 3 });
    await save('fast-failed', run.runId);
  });

  test('skipped: the endpoint rejects the request', async () => {
    receiver.script('/gone', { status: 404 });
    const run = await runFlow('Skipped', [hook('w', '/gone')]);
    expect(step(run, 'w')).toMatchObject({ status: 'skipped', attempts: 1 });
    await save('fast-skipped', run.runId);
  });

  test('a split taking each branch', async () => {
    const steps = [
      {
        id: 'big',
        type: 'split',
        condition: 'event.value > 100 and person.email != null',
        yes: [hook('vip', '/split-yes')],
        no: [hook('regular', '/split-no')],
      },
      hook('always', '/split-after'),
    ];
    const metric = uniqueMetric('Split');
    await createLiveFlow(stack, metric, steps);
    const yes = await waitForRun(stack, await startOneRun(stack, metric, { properties: { value: 150 } }));
    expect(step(yes, 'big').taken).toBe('yes');
    await save('fast-split-yes', yes.runId);
    const no = await waitForRun(stack, await startOneRun(stack, metric, { properties: { value: 50 } }));
    expect(step(no, 'big').taken).toBe('no');
    await save('fast-split-no', no.runId);
  });

  test('a delay, then a webhook', async () => {
    const run = await runFlow('Delay', [
      { id: 'wait', type: 'delay', seconds: 1 },
      hook('w', '/after-delay'),
    ]);
    expect(step(run, 'wait').status).toBe('completed');
    await save('fast-delay', run.runId);
  });

  // On flowRunV2 the check runs inside the first attempt's local activity; the fixtures of flowRun
  // are kept as recorded: eligibility-*.json (a local activity, patch 'eligibility-local-activity')
  // and eligibility-activity-*.json (before it).
  test('the eligibility check before a webhook (patch eligibility-before-webhook): passed, then failed', async () => {
    const metric = uniqueMetric('Eligibility');
    const created = await stack.request('POST', '/api/flows', {
      name: 'eligibility',
      trigger: { type: 'metric', metric },
      status: 'live',
      flowFilters: {
        groups: [
          { conditions: [{ type: 'profile_property', property: 'vip', operator: 'equals', value: true }] },
        ],
      },
      steps: [{ id: 'wait', type: 'delay', seconds: 2 }, hook('w', '/eligible')],
    });
    expect(created.status).toBe(201);
    const vip = (on: boolean) => ({ profile: { email: 'replay@example.com', properties: { vip: on } } });
    const passed = await waitForRun(stack, await startOneRun(stack, metric, vip(true)));
    expect(step(passed, 'w').status).toBe('delivered');
    await save('fast-eligibility-delivered', passed.runId);

    const runId = await startOneRun(stack, metric, vip(true));
    // The API answers before Temporal has the run (its start goes through the outbox).
    await poll(
      () =>
        client.workflow
          .getHandle(runId)
          .describe()
          .catch(() => undefined),
      (d) => d?.status.name === 'RUNNING',
    );
    await stack.request('POST', '/api/events', { metric: uniqueMetric('Profile updated'), ...vip(false) });
    const failed = await waitForRun(stack, runId);
    expect(step(failed, 'w')).toMatchObject({ status: 'skipped', reason: 'fails flow filters' });
    await save('fast-eligibility-skipped', runId);
  });

  test('a worker killed during the first attempt: the run is taken over and delivered', async () => {
    receiver.script('/taken-over', { action: 'hang' }, { status: 200 });
    const metric = uniqueMetric('TakenOver');
    await createLiveFlow(stack, metric, [hook('w', '/taken-over')]);
    const runId = await startOneRun(stack, metric);
    await poll(
      () => Promise.resolve(receiver.received('/taken-over').length),
      (n) => n >= 1,
    );
    await stack.killWorker();
    await stack.startWorker();
    const run = await waitForRun(stack, runId, 90_000);
    expect(step(run, 'w')).toMatchObject({ status: 'delivered', attempts: 2 });
    await save('fast-taken-over', runId);
  }, 120_000);

  test('a resend of a failed delivery, delivered', async () => {
    receiver.script('/fixed-later', { status: 503 });
    const run = await runFlow('Resend', [hook('w', '/fixed-later')]);
    const original = step(run, 'w');
    expect(original.status).toBe('failed');
    receiver.script('/fixed-later', { status: 200 });
    const res = await stack.request<{ deliveryId: string }>(
      'POST',
      `/api/webhooks/deliveries/${original.deliveryId!}/resend`,
    );
    expect(res.status).toBe(202);
    const workflowId = `resend_${original.deliveryId!}`;
    await poll(
      () => client.workflow.getHandle(workflowId).describe(),
      (d) => d.status.name === 'COMPLETED',
    );
    await save('resend', workflowId);
  });
});
