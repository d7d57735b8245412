import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import type { ErrorResponse, PublicFlow } from '../support/api-types';
import { getRun, waitForRun } from '../support/flows';

/** Profiles, lists and list-triggered flows on the real stack (issue 11). */

let stack: Stack;
let receiver: Receiver;

interface ListBody {
  id: string;
  name: string;
  doubleOptIn: boolean;
}
interface AddResult {
  added: { profileId: string; status: string }[];
  alreadyMembers: string[];
  createdProfiles: string[];
  runs: { runId: string; flowId: string; profileId: string }[];
}

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'lists', caCert: pki.caCert });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

let counter = 0;
const unique = (label: string) => `${label}-${process.pid}-${++counter}`;

async function createList(doubleOptIn = false): Promise<ListBody> {
  const res = await stack.request<ListBody>('POST', '/api/lists', { name: unique('list'), doubleOptIn });
  if (res.status !== 201) throw new Error(`list not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A live flow on the list whose one webhook posts the member's email to `urlPath`. */
async function listFlow(
  listId: string,
  urlPath: string,
  extra: Record<string, unknown> = {},
): Promise<PublicFlow> {
  const res = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: unique('list flow'),
    trigger: { type: 'list', listId },
    status: 'live',
    steps: [
      { id: 'hook', type: 'webhook', url: receiver.url(urlPath), body: '{"email": "{{ person.email }}"}' },
    ],
    ...extra,
  });
  if (res.status !== 201) throw new Error(`flow not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function add(listId: string, profiles: unknown[]) {
  return stack.request<AddResult & ErrorResponse>('POST', `/api/lists/${listId}/members`, { profiles });
}

const emails = (n: number, label: string) =>
  Array.from({ length: n }, (_, i) => ({ email: `${label}-${i}@example.com` }));

test('profiles: created by identity (201), updated with merged properties (200), found, read, deleted', async () => {
  const email = `${unique('ada')}@example.com`;
  const created = await stack.request<Record<string, unknown>>('POST', '/api/profiles', {
    email,
    first_name: 'Ada',
    location: { city: 'London', timezone: 'Europe/London' },
    properties: { plan: 'free', vip: false },
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect(id).toMatch(/^prf_/);
  const updated = await stack.request<Record<string, unknown>>('POST', '/api/profiles', {
    email: email.toUpperCase(),
    last_name: 'Lovelace',
    properties: { vip: true },
  });
  expect(updated.status).toBe(200);
  expect(updated.body).toMatchObject({
    id,
    first_name: 'Ada',
    last_name: 'Lovelace',
    location: { city: 'London', timezone: 'Europe/London' },
    properties: { plan: 'free', vip: true },
  });
  const found = await stack.request<{ profiles: { id: string }[] }>(
    'GET',
    `/api/profiles?email=${encodeURIComponent(email)}`,
  );
  expect(found.body.profiles.map((p) => p.id)).toEqual([id]);
  // An event carrying the profile updates it in the same transaction, keeping what it does not carry.
  const event = await stack.request('POST', '/api/events', {
    metric: unique('Viewed'),
    profile: { email, first_name: 'Augusta', properties: { seen: 1 } },
  });
  expect(event.status).toBe(202);
  const afterEvent = await stack.request<Record<string, unknown>>('GET', `/api/profiles/${id}`);
  expect(afterEvent.body).toMatchObject({
    first_name: 'Augusta',
    last_name: 'Lovelace',
    location: { timezone: 'Europe/London' },
    properties: { plan: 'free', vip: true, seen: 1 },
  });

  const badZone = await stack.request<ErrorResponse>('POST', '/api/profiles', {
    email,
    location: { timezone: 'Mars/Olympus' },
  });
  expect(badZone.status).toBe(422);
  expect(badZone.body.error.details.map((d) => d.path)).toEqual(['location.timezone']);

  expect((await stack.request('DELETE', `/api/profiles/${id}`)).status).toBe(204);
  expect((await stack.request('GET', `/api/profiles/${id}`)).status).toBe(404);
});

test('bulk profiles: up to 1,000 in one call; 1,001 is a 422 naming profiles; a bad one is named by index', async () => {
  const ok = await stack.request<{ created: number }>('POST', '/api/profiles/bulk', {
    profiles: emails(1000, unique('bulk')),
  });
  expect(ok.status).toBe(200);
  expect(ok.body.created).toBe(1000);
  const tooMany = await stack.request<ErrorResponse>('POST', '/api/profiles/bulk', {
    profiles: emails(1001, unique('bulk')),
  });
  expect(tooMany.status).toBe(422);
  expect(tooMany.body.error.details[0]!.path).toBe('profiles');
  const bad = await stack.request<ErrorResponse>('POST', '/api/profiles/bulk', {
    profiles: [{ email: 'a@example.com' }, { email: 'not an email' }],
  });
  expect(bad.status).toBe(422);
  expect(bad.body.error.details.map((d) => d.path)).toEqual(['profiles.1.email']);
});

test('a list import starts one run per new member and none for members from before the flow went live', async () => {
  const list = await createList();
  const label = unique('import');
  const before = await add(list.id, emails(3, `${label}-old`));
  expect(before.body.added).toHaveLength(3);
  expect(before.body.runs).toEqual([]);

  const flow = await listFlow(list.id, `/${label}`);
  const imported = await add(list.id, [...emails(5, `${label}-new`), ...emails(2, `${label}-old`)]);
  expect(imported.status).toBe(200);
  expect(imported.body.added).toHaveLength(5);
  expect(imported.body.alreadyMembers).toHaveLength(2);
  expect(imported.body.runs).toHaveLength(5);
  expect(new Set(imported.body.runs.map((r) => r.flowId))).toEqual(new Set([flow.id]));
  await Promise.all(imported.body.runs.map((r) => waitForRun(stack, r.runId)));
  const got = receiver.received(`/${label}`).map((r) => (JSON.parse(r.body) as { email: string }).email);
  expect(got.sort()).toEqual(emails(5, `${label}-new`).map((e) => e.email));

  // Past members enter on request, at most once each.
  const past = await stack.request<{ entered: number }>('POST', `/api/flows/${flow.id}/add-past-profiles`);
  expect(past.body.entered).toBe(3);
  const again = await stack.request<{ entered: number }>('POST', `/api/flows/${flow.id}/add-past-profiles`);
  expect(again.body.entered).toBe(0);
  await poll(
    () => Promise.resolve(receiver.received(`/${label}`).length),
    (n) => n === 8,
    30_000,
  );

  const page1 = await stack.request<{ members: unknown[]; next: string }>(
    'GET',
    `/api/lists/${list.id}/members?limit=5`,
  );
  expect(page1.body.members).toHaveLength(5);
  const page2 = await stack.request<{ members: unknown[]; next: string | null }>(
    'GET',
    `/api/lists/${list.id}/members?limit=5&after=${page1.body.next}`,
  );
  expect(page2.body.members).toHaveLength(3);
  expect(page2.body.next).toBeNull();
});

test('double opt-in: the member is pending and the run starts when it confirms', async () => {
  const list = await createList(true);
  const label = unique('optin');
  await listFlow(list.id, `/${label}`);
  const res = await add(list.id, [{ email: `${label}@example.com` }]);
  expect(res.body.added).toEqual([expect.objectContaining({ status: 'pending' })]);
  expect(res.body.runs).toEqual([]);
  const profileId = res.body.added[0]!.profileId;
  const confirmed = await stack.request<{ member: { status: string }; runs: { runId: string }[] }>(
    'POST',
    `/api/lists/${list.id}/members/${profileId}/confirm`,
  );
  expect(confirmed.body.member.status).toBe('subscribed');
  expect(confirmed.body.runs).toHaveLength(1);
  const run = await waitForRun(stack, confirmed.body.runs[0]!.runId);
  expect(run.steps.find((s) => s.id === 'hook')!.status).toBe('delivered');
  const again = await stack.request<{ runs: unknown[] }>(
    'POST',
    `/api/lists/${list.id}/members/${profileId}/confirm`,
  );
  expect(again.body.runs).toEqual([]);
  const history = await stack.request<{ history: { action: string; by: string }[] }>(
    'GET',
    `/api/lists/${list.id}/members/${profileId}/history`,
  );
  expect(history.body.history.map((h) => h.action)).toEqual(['joined', 'confirmed']);
  expect(history.body.history[0]!.by).toMatch(/^key:/);
});

test('re-adding a member respects re-entry: never, then after N seconds', async () => {
  const never = await createList();
  await listFlow(never.id, `/${unique('never')}`);
  const first = await add(never.id, [{ email: `${unique('re')}@example.com` }]);
  expect(first.body.runs).toHaveLength(1);
  const pid = first.body.added[0]!.profileId;
  expect((await stack.request('DELETE', `/api/lists/${never.id}/members/${pid}`)).status).toBe(204);
  const back = await add(never.id, [{ id: pid }]);
  expect(back.body.added).toHaveLength(1);
  expect(back.body.runs).toEqual([]);

  const after = await createList();
  await listFlow(after.id, `/${unique('after')}`, { reentry: { mode: 'after', seconds: 2 } });
  const a1 = await add(after.id, [{ id: pid }]);
  expect(a1.body.runs).toHaveLength(1);
  await stack.request('DELETE', `/api/lists/${after.id}/members/${pid}`);
  expect((await add(after.id, [{ id: pid }])).body.runs).toEqual([]);
  await new Promise((r) => setTimeout(r, 2100));
  await stack.request('DELETE', `/api/lists/${after.id}/members/${pid}`);
  expect((await add(after.id, [{ id: pid }])).body.runs).toHaveLength(1);
});

test('two concurrent qualifying changes start one run', async () => {
  const list = await createList();
  await listFlow(list.id, `/${unique('race')}`);
  const email = `${unique('race')}@example.com`;
  const results = await Promise.all(Array.from({ length: 6 }, () => add(list.id, [{ email }])));
  expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
  expect(results.flatMap((r) => r.body.runs)).toHaveLength(1);

  // The same with double opt-in: two confirmations at once.
  const optIn = await createList(true);
  await listFlow(optIn.id, `/${unique('race-confirm')}`);
  const pid = (await add(optIn.id, [{ email }])).body.added[0]!.profileId;
  const confirms = await Promise.all(
    [1, 2, 3].map(() =>
      stack.request<{ runs: unknown[] }>('POST', `/api/lists/${optIn.id}/members/${pid}/confirm`),
    ),
  );
  expect(confirms.flatMap((c) => c.body.runs)).toHaveLength(1);
});

test('list flows have person only: event variables are refused at save, in variables and in previews', async () => {
  const list = await createList();
  const refused = await stack.request<ErrorResponse>('POST', '/api/flows', {
    name: 'uses event',
    trigger: { type: 'list', listId: list.id },
    steps: [
      { id: 'ok', type: 'webhook', url: receiver.url('/x'), body: '{"e": "{{ person.email }}"}' },
      {
        id: 'split',
        type: 'split',
        condition: 'event.value > 1',
        yes: [{ id: 'bad', type: 'webhook', url: receiver.url('/x'), body: '{"v": {{ event.value }}}' }],
        no: [],
      },
    ],
  });
  expect(refused.status).toBe(422);
  expect(refused.body.error.details).toEqual([
    { path: 'steps.1.condition', message: 'event variables are not available in list-triggered flows' },
    { path: 'steps.1.yes.0.body', message: 'event variables are not available in list-triggered flows' },
  ]);

  const flow = await listFlow(list.id, '/vars');
  const vars = await stack.request<{ variables: { source: string }[] }>(
    'GET',
    `/api/flows/${flow.id}/variables`,
  );
  expect(vars.body.variables.length).toBeGreaterThan(0);
  expect(vars.body.variables.filter((v) => v.source === 'event')).toEqual([]);
  const preview = await stack.request<{ valid: boolean }>(
    'POST',
    `/api/flows/${flow.id}/steps/hook/preview`,
    {},
  );
  expect(preview.body.valid).toBe(true);
  const withEvent = await stack.request<ErrorResponse>('POST', `/api/flows/${flow.id}/steps/hook/preview`, {
    event: { value: 1 },
  });
  expect(withEvent.status).toBe(422);
  expect(withEvent.body.error.details).toEqual([
    { path: 'event', message: 'event variables are not available in list-triggered flows' },
  ]);

  // A metric flow switched to a list trigger is checked again.
  const metricFlow = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: 'metric',
    trigger: { type: 'metric', metric: unique('Placed Order') },
    steps: [
      { id: 'h', type: 'webhook', url: receiver.url('/x'), body: '{"v": {{ event.value|default:0 }}}' },
    ],
  });
  const switched = await stack.request<ErrorResponse>('PATCH', `/api/flows/${metricFlow.body.id}`, {
    trigger: { type: 'list', listId: list.id },
  });
  expect(switched.status).toBe(422);
  expect(switched.body.error.details.map((d) => d.path)).toEqual(['steps.0.body']);
});

test('bad input gets its 422: refusal metric trigger, unknown list, 1,001 members, bad identity, unknown id', async () => {
  const unsub = await stack.request<ErrorResponse>('POST', '/api/flows', {
    name: 'unsub',
    trigger: { type: 'metric', metric: 'Unsubscribed from List' },
  });
  expect(unsub.status).toBe(422);
  expect(unsub.body.error.details.map((d) => d.path)).toEqual(['trigger.metric']);

  const unknownList = await stack.request<ErrorResponse>('POST', '/api/flows', {
    name: 'nowhere',
    trigger: { type: 'list', listId: 'lst_nope' },
  });
  expect(unknownList.status).toBe(422);
  expect(unknownList.body.error.details).toEqual([
    { path: 'trigger.listId', message: 'list lst_nope was not found' },
  ]);

  const list = await createList();
  const tooMany = await add(list.id, emails(1001, unique('many')));
  expect(tooMany.status).toBe(422);
  expect(tooMany.body.error.details[0]!.path).toBe('profiles');

  const badIdentity = await add(list.id, [{ email: 'ok@example.com' }, { email: 'nope' }, { nickname: 'x' }]);
  expect(badIdentity.status).toBe(422);
  expect(badIdentity.body.error.details.map((d) => d.path)).toEqual(['profiles.1.email', 'profiles.2']);

  const unknownId = await add(list.id, [{ email: `${unique('fine')}@example.com` }, { id: 'prf_nope' }]);
  expect(unknownId.status).toBe(422);
  expect(unknownId.body.error.details).toEqual([
    { path: 'profiles.1.id', message: 'profile prf_nope was not found' },
  ]);
  // Nothing half-applied.
  const members = await stack.request<{ members: unknown[] }>('GET', `/api/lists/${list.id}/members`);
  expect(members.body.members).toEqual([]);

  expect((await add('lst_nope', [{ email: 'a@example.com' }])).status).toBe(404);
});

test('a run of a list flow carries the profile only', async () => {
  const list = await createList();
  const label = unique('ctx');
  await listFlow(list.id, `/${label}`);
  await stack.request('POST', '/api/profiles', { email: `${label}@example.com`, first_name: 'Grace' });
  const res = await add(list.id, [{ email: `${label}@example.com` }]);
  const run = await getRun(stack, res.body.runs[0]!.runId);
  expect(run.flowId).toBeDefined();
  await waitForRun(stack, run.runId);
  expect(JSON.parse(receiver.received(`/${label}`)[0]!.body)).toEqual({ email: `${label}@example.com` });
});

test('a segment trigger defaults to no re-entry; event variables are refused in it with its own message', async () => {
  const segment = await stack.request<{ id: string }>('POST', '/api/segments', {
    name: unique('segment'),
    definition: {
      groups: [
        { conditions: [{ type: 'profile_property', property: 'vip', operator: 'equals', value: true }] },
      ],
    },
  });
  expect(segment.status).toBe(201);
  const ok = await stack.request<PublicFlow & { reentry: unknown }>('POST', '/api/flows', {
    name: 'segment flow',
    trigger: { type: 'segment', segmentId: segment.body.id },
    steps: [],
  });
  expect(ok.status).toBe(201);
  expect(ok.body.reentry).toEqual({ mode: 'never' });
  const refused = await stack.request<ErrorResponse>('POST', '/api/flows', {
    name: 'segment flow',
    trigger: { type: 'segment', segmentId: segment.body.id },
    steps: [{ id: 'h', type: 'webhook', url: receiver.url('/x'), body: '{"v": {{ event.value }}}' }],
  });
  expect(refused.status).toBe(422);
  expect(refused.body.error.details).toEqual([
    { path: 'steps.0.body', message: 'event variables are not available in segment-triggered flows' },
  ]);
});
