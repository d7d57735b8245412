import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import type { ErrorResponse, PublicFlow } from '../support/api-types';
import { getRun, step, waitForRun } from '../support/flows';

/**
 * Segment- and list-triggered flows end to end (issue 11): organic segment entry starts a run, a
 * definition edit does not; a member removed from the list during a delay has its webhook
 * skipped "no longer in list" with no request sent.
 */

let stack: Stack;
let receiver: Receiver;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'audience-flows', caCert: pki.caCert });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

let counter = 0;
const unique = (label: string) => `${label}-${process.pid}-${++counter}`;

interface SegmentBody {
  id: string;
  memberCount: number;
  recompute: { status: string };
}

const tierIs = (tier: string) => ({
  groups: [{ conditions: [{ type: 'profile_property', property: 'tier', operator: 'equals', value: tier }] }],
});

async function idleSegment(id: string): Promise<SegmentBody> {
  return poll(
    async () => (await stack.request<SegmentBody>('GET', `/api/segments/${id}`)).body,
    (s) => s.recompute.status === 'idle',
  );
}

/** Posts an event whose profile carries `tier` (events upsert the profile they carry). */
async function setTier(email: string, tier: string): Promise<void> {
  const res = await stack.request('POST', '/api/events', {
    metric: unique('Profile Touched'),
    profile: { email, properties: { tier } },
  });
  if (res.status !== 202) throw new Error(`event refused: ${res.status} ${JSON.stringify(res.body)}`);
}

async function liveFlow(trigger: Record<string, unknown>, steps: unknown[]): Promise<PublicFlow> {
  const res = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: unique('audience flow'),
    trigger,
    status: 'live',
    steps,
  });
  if (res.status !== 201) throw new Error(`flow not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

test('a profile whose data change makes it enter a segment starts a run; a definition edit does not', async () => {
  const label = unique('seg');
  const segment = await stack.request<SegmentBody>('POST', '/api/segments', {
    name: label,
    definition: tierIs(`gold-${label}`),
  });
  expect(segment.status).toBe(201);
  await idleSegment(segment.body.id);
  await liveFlow({ type: 'segment', segmentId: segment.body.id }, [
    {
      id: 'hook',
      type: 'webhook',
      url: receiver.url(`/${label}`),
      body: '{"email": "{{ person.email }}", "tier": "{{ person.tier }}"}',
    },
  ]);

  // Organic entry: the profile's tier changes to the segment's.
  const ada = `ada-${label}@example.com`;
  await setTier(ada, 'silver');
  await setTier(ada, `gold-${label}`);
  await poll(
    () => Promise.resolve(receiver.received(`/${label}`).length),
    (n) => n >= 1,
  );
  expect(receiver.received(`/${label}`).map((r) => JSON.parse(r.body) as unknown)).toEqual([
    { email: ada, tier: `gold-${label}` },
  ]);

  // A definition edit that takes in a profile which was already silver: members change, no run.
  const grace = `grace-${label}@example.com`;
  await setTier(grace, `silver-${label}`);
  const edited = await stack.request<SegmentBody>('PATCH', `/api/segments/${segment.body.id}`, {
    definition: {
      groups: [
        {
          conditions: [
            { type: 'profile_property', property: 'tier', operator: 'equals', value: `gold-${label}` },
            { type: 'profile_property', property: 'tier', operator: 'equals', value: `silver-${label}` },
          ],
        },
      ],
    },
  });
  expect(edited.status).toBe(200);
  expect((await idleSegment(segment.body.id)).memberCount).toBe(2);
  // Give a wrongly started run the time to deliver before checking that none did.
  await new Promise((r) => setTimeout(r, 3000));
  expect(receiver.received(`/${label}`)).toHaveLength(1);
});

test('a segment trigger must name an existing segment', async () => {
  const res = await stack.request<ErrorResponse>('POST', '/api/flows', {
    name: 'nowhere',
    trigger: { type: 'segment', segmentId: 'seg_nope' },
    steps: [],
  });
  expect(res.status).toBe(422);
  expect(res.body.error.details).toEqual([
    { path: 'trigger.segmentId', message: 'segment seg_nope was not found' },
  ]);
});

test('a member removed from the list during a delay has its webhook skipped "no longer in list"', async () => {
  const label = unique('left');
  const list = await stack.request<{ id: string }>('POST', '/api/lists', { name: label });
  expect(list.status).toBe(201);
  const flow = await liveFlow({ type: 'list', listId: list.body.id }, [
    { id: 'wait', type: 'delay', seconds: 4 },
    { id: 'hook', type: 'webhook', url: receiver.url(`/${label}`), body: '{"email": "{{ person.email }}"}' },
  ]);
  const added = await stack.request<{ added: { profileId: string }[]; runs: { runId: string }[] }>(
    'POST',
    `/api/lists/${list.body.id}/members`,
    { profiles: [{ email: `${label}@example.com` }] },
  );
  expect(added.status).toBe(200);
  const [run] = added.body.runs;
  const profileId = added.body.added[0]!.profileId;
  await poll(
    () => getRun(stack, run!.runId),
    (r) => step(r, 'wait').status === 'waiting',
  );
  const removed = await stack.request('DELETE', `/api/lists/${list.body.id}/members/${profileId}`);
  expect(removed.status).toBe(204);

  const done = await waitForRun(stack, run!.runId);
  expect(step(done, 'hook')).toMatchObject({ status: 'skipped', reason: 'no longer in list' });
  expect(receiver.received(`/${label}`)).toHaveLength(0);
  const skipped = await stack.request<{ deliveries: { runId: string; reason: string; attempts: number }[] }>(
    'GET',
    `/api/webhooks/deliveries?status=skipped&flowId=${flow.id}`,
  );
  expect(skipped.body.deliveries.map((d) => [d.runId, d.reason, d.attempts])).toEqual([
    [run!.runId, 'no longer in list', 0],
  ]);
});

test('a segment that a flow is triggered by cannot be deleted until the flow is', async () => {
  const segment = await stack.request<SegmentBody>('POST', '/api/segments', {
    name: unique('in use'),
    definition: tierIs('platinum'),
  });
  const flow = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: unique('draft on segment'),
    trigger: { type: 'segment', segmentId: segment.body.id },
    steps: [],
  });
  expect(flow.status).toBe(201);
  const refused = await stack.request<ErrorResponse>('DELETE', `/api/segments/${segment.body.id}`);
  expect(refused.status).toBe(409);
  expect(refused.body.error.code).toBe('segment_in_use');
  expect((await stack.request('DELETE', `/api/flows/${flow.body.id}`)).status).toBe(204);
  expect((await stack.request('DELETE', `/api/segments/${segment.body.id}`)).status).toBe(204);
});
