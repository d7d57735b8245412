import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { dataConverterOf } from '../../src/temporal/payload-codec';
import { entryRunId } from '../../src/audience/entries';
import { dateScheduleId } from '../../src/temporal/schedules';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import type { PublicFlow, RunView } from '../support/api-types';
import { step, waitForRun } from '../support/flows';

/**
 * Date-property flows end to end (issue 12): a Temporal Schedule per flow sweeping every two
 * seconds; profiles whose send time (a whole minute, UTC) is seconds away receive their webhook;
 * a date changed during the run's delay skips the webhook "date changed"; the schedule is what
 * the Web UI shows, paused as a draft and gone with the flow.
 */

let stack: Stack;
let receiver: Receiver;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({
    name: 'date-flows',
    caCert: pki.caCert,
    env: { HOOKFLOW_DATE_SWEEP_SECONDS: '2' },
  });
  connection = await Connection.connect({ address: stack.server.address });
  client = new Client({
    connection,
    namespace: 'default',
    dataConverter: dataConverterOf(stack.payloadCodec()),
  });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await stack?.stop();
  await receiver?.close();
});

let counter = 0;
const unique = (label: string) => `${label}-${process.pid}-${++counter}`;
const pad = (n: number) => String(n).padStart(2, '0');

/** The next whole UTC minute at least 8 s away: its date parts and `HH:MM`. */
function nextSendMinute(): { year: number; mmdd: string; time: string } {
  const at = new Date(Math.ceil((Date.now() + 8000) / 60_000) * 60_000);
  return {
    year: at.getUTCFullYear(),
    mmdd: `${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}`,
    time: `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}`,
  };
}

/** A date flow on `property` (each test its own, so a flow never takes another test's profiles). */
async function dateFlow(
  time: string,
  steps: unknown[],
  status = 'live',
  property = 'birthday',
): Promise<PublicFlow> {
  const res = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: unique('birthday flow'),
    trigger: { type: 'date', property, recurrence: 'annually', time, timezone: 'UTC' },
    status,
    steps,
  });
  if (res.status !== 201) throw new Error(`flow not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function putProfile(body: Record<string, unknown>): Promise<string> {
  const res = await stack.request<{ id: string }>('POST', '/api/profiles', body);
  if (res.status !== 201 && res.status !== 200) throw new Error(`profile: ${res.status}`);
  return res.body.id;
}

test('a profile whose birthday send is seconds away receives its webhook with its profile properties; more sweeps start nothing more', async () => {
  const label = unique('bday');
  const send = nextSendMinute();
  const flow = await dateFlow(send.time, [
    {
      id: 'hook',
      type: 'webhook',
      url: receiver.url(`/${label}`),
      body: '{"email": "{{ person.email }}", "name": "{{ person.first_name }}", "birthday": "{{ person.birthday }}"}',
    },
  ]);
  const birthday = `${send.year - 30}-${send.mmdd}`;
  const email = `${label}@example.com`;
  await putProfile({ email, first_name: 'Ada', properties: { birthday } });
  await putProfile({ email: `other-${label}@example.com`, properties: { birthday: '17-05-1990' } });

  await poll(
    () => Promise.resolve(receiver.received(`/${label}`).length),
    (n) => n >= 1,
    90_000,
    250,
  );
  expect(receiver.received(`/${label}`).map((r) => JSON.parse(r.body) as unknown)).toEqual([
    { email, name: 'Ada', birthday },
  ]);

  // Sweeps triggered by hand on top of the schedule's own start no second run.
  const handle = client.schedule.getHandle(dateScheduleId(flow.id));
  await handle.trigger();
  await new Promise((r) => setTimeout(r, 2500));
  await handle.trigger();
  await new Promise((r) => setTimeout(r, 3000));
  expect(receiver.received(`/${label}`)).toHaveLength(1);
}, 150_000);

test('a date changed while the run waits skips its webhook "date changed", without a request', async () => {
  const label = unique('moved');
  const send = nextSendMinute();
  const flow = await dateFlow(
    send.time,
    [
      { id: 'wait', type: 'delay', seconds: 6 },
      {
        id: 'hook',
        type: 'webhook',
        url: receiver.url(`/${label}`),
        body: '{"email": "{{ person.email }}"}',
      },
    ],
    'live',
    'renewal',
  );
  const email = `${label}@example.com`;
  const profileId = await putProfile({ email, properties: { renewal: `2020-${send.mmdd}` } });
  const runId = entryRunId(flow.id, profileId, `date:${send.year}-${send.mmdd}`);
  await poll(
    async () => (await stack.request<RunView>('GET', `/api/runs/${runId}`)).body,
    (r) => r.steps?.some((s) => s.id === 'wait' && s.status === 'waiting') ?? false,
    90_000,
    250,
  );
  await putProfile({ email, properties: { renewal: '2020-01-01' } });

  const done = await waitForRun(stack, runId);
  expect(step(done, 'hook')).toMatchObject({ status: 'skipped', reason: 'date changed' });
  expect(receiver.received(`/${label}`)).toHaveLength(0);
}, 150_000);

test('each date flow has a Temporal Schedule: running while live, paused as a draft, deleted with the flow', async () => {
  const flow = await dateFlow('09:00', [], 'draft');
  const handle = client.schedule.getHandle(dateScheduleId(flow.id));
  const draft = await handle.describe();
  expect(draft.state.paused).toBe(true);
  expect(draft.action).toMatchObject({ type: 'startWorkflow', workflowType: 'dateSweep' });

  expect((await stack.request('PATCH', `/api/flows/${flow.id}`, { status: 'live' })).status).toBe(200);
  expect((await handle.describe()).state.paused).toBe(false);
  expect((await stack.request('PATCH', `/api/flows/${flow.id}`, { status: 'draft' })).status).toBe(200);
  expect((await handle.describe()).state.paused).toBe(true);

  expect((await stack.request('DELETE', `/api/flows/${flow.id}`)).status).toBe(204);
  await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
});

test('bad date triggers are refused naming the field, and event variables are not available', async () => {
  const res = await stack.request<{ error: { details: { path: string }[] } }>('POST', '/api/flows', {
    name: 'bad',
    trigger: {
      type: 'date',
      property: 'birthday',
      offset: { value: 400, unit: 'days', direction: 'before' },
      time: '25:00',
      timezone: 'Mars/Olympus',
    },
    steps: [{ id: 'h', type: 'webhook', url: receiver.url('/x'), body: '{"v": "{{ event.value }}"}' }],
  });
  expect(res.status).toBe(422);
  expect(res.body.error.details.map((d) => d.path).sort()).toEqual(
    ['trigger.offset.value', 'trigger.time', 'trigger.timezone'].sort(),
  );
  const events = await stack.request<{ error: { details: { path: string; message: string }[] } }>(
    'POST',
    '/api/flows',
    {
      name: 'event vars',
      trigger: { type: 'date', property: 'birthday' },
      steps: [{ id: 'h', type: 'webhook', url: receiver.url('/x'), body: '{"v": "{{ event.value }}"}' }],
    },
  );
  expect(events.status).toBe(422);
  expect(events.body.error.details).toEqual([
    { path: 'steps.0.body', message: 'event variables are not available in date-triggered flows' },
  ]);
});

test('the profile API says how a date property is read, or why it never qualifies', async () => {
  await dateFlow('09:00', []);
  const id = await putProfile({
    email: `${unique('dmy')}@example.com`,
    properties: { birthday: '17-05-1990' },
  });
  const res = await stack.request<{ dateProperties: Record<string, unknown> }>('GET', `/api/profiles/${id}`);
  expect(res.body.dateProperties.birthday).toMatchObject({ ok: false, timezone: 'UTC' });
});
