import type { PublicSegment } from '../../src/audience/segments';
import type { ErrorResponse } from '../support/api-types';
import { uniqueMetric } from '../support/flows';
import { poll, Stack } from '../harness/stack';

/** Segments on the real stack: membership follows profile changes; edits recompute; bad input is refused. */

interface MembersPage {
  members: { profileId: string; enteredAt: string }[];
  next: string | null;
}

let stack: Stack;

const equals = (property: string, value: string | number | boolean) => ({
  groups: [{ conditions: [{ type: 'profile_property', property, operator: 'equals', value }] }],
});

const upsert = (email: string, properties: Record<string, unknown>) =>
  stack.request('POST', '/api/events', {
    metric: uniqueMetric('Profile Updated'),
    profile: { email, properties },
    properties: {},
  });

const getSegment = async (id: string) =>
  (await stack.request<PublicSegment>('GET', `/api/segments/${id}`)).body;
const members = async (id: string, query = '') =>
  (await stack.request<MembersPage>('GET', `/api/segments/${id}/members${query}`)).body;

beforeAll(async () => {
  stack = await Stack.start({ name: 'segments' });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

test('a profile whose property change makes it enter a segment is a member from then, and leaves when it changes back', async () => {
  const created = await stack.request<PublicSegment>('POST', '/api/segments', {
    name: 'Gold tier',
    definition: equals('tier', 'gold'),
  });
  expect(created.status).toBe(201);
  const id = created.body.id;
  await poll(
    () => getSegment(id),
    (s) => s.recompute.status === 'idle',
  );

  expect((await upsert('gold@example.com', { tier: 'silver' })).status).toBe(202);
  expect((await members(id)).members).toEqual([]);

  const before = new Date().toISOString();
  expect((await upsert('gold@example.com', { tier: 'Gold' })).status).toBe(202);
  const page = await members(id);
  expect(page.members).toHaveLength(1);
  expect((page.members[0]?.enteredAt ?? '') >= before).toBe(true);
  expect(await getSegment(id)).toMatchObject({ name: 'Gold tier', memberCount: 1, version: 1 });

  expect((await upsert('gold@example.com', { tier: 'bronze' })).status).toBe(202);
  expect(await getSegment(id)).toMatchObject({ memberCount: 0 });
});

test('a definition edit recomputes membership in the background, with progress on GET', async () => {
  for (const [i, plan] of ['pro', 'pro', 'free'].entries()) {
    expect((await upsert(`plan${i}@example.com`, { plan })).status).toBe(202);
  }
  const created = await stack.request<PublicSegment>('POST', '/api/segments', {
    name: 'Plans',
    definition: equals('plan', 'pro'),
  });
  const id = created.body.id;
  const first = await poll(
    () => getSegment(id),
    (s) => s.recompute.status === 'idle',
  );
  expect(first.memberCount).toBe(2);
  expect(first.recompute.processed).toBe(first.recompute.total);

  const patched = await stack.request<PublicSegment>('PATCH', `/api/segments/${id}`, {
    definition: equals('plan', 'free'),
  });
  expect(patched.status).toBe(200);
  expect(patched.body.version).toBe(2);
  const second = await poll(
    () => getSegment(id),
    (s) => s.recompute.status === 'idle',
  );
  expect(second.memberCount).toBe(1);

  // Pages of one member each reach every member once.
  const one = await members(id, '?limit=1');
  expect(one.members).toHaveLength(1);
  expect(one.next).toBeNull();

  const renamed = await stack.request<PublicSegment>('PATCH', `/api/segments/${id}`, { name: 'Free plan' });
  expect(renamed.body).toMatchObject({ name: 'Free plan', version: 2, memberCount: 1 });
  const listed = await stack.request<{ segments: PublicSegment[] }>('GET', '/api/segments');
  expect(listed.body.segments.map((s) => s.id)).toContain(id);

  expect((await stack.request('DELETE', `/api/segments/${id}`)).status).toBe(204);
  expect((await stack.request('GET', `/api/segments/${id}`)).status).toBe(404);
});

test('paging through members follows the keyset', async () => {
  for (let i = 0; i < 3; i++)
    expect((await upsert(`page${i}@example.com`, { cohort: 'paging' })).status).toBe(202);
  const created = await stack.request<PublicSegment>('POST', '/api/segments', {
    name: 'Cohort',
    definition: equals('cohort', 'paging'),
  });
  await poll(
    () => getSegment(created.body.id),
    (s) => s.recompute.status === 'idle',
  );
  const first = await members(created.body.id, '?limit=2');
  expect(first.members).toHaveLength(2);
  expect(first.next).not.toBeNull();
  const second = await members(created.body.id, `?limit=2&after=${first.next}`);
  expect(second).toMatchObject({ next: null });
  expect(new Set([...first.members, ...second.members].map((m) => m.profileId)).size).toBe(3);
});

describe('bad input is refused with 422 naming the field', () => {
  const refused = async (method: string, path: string, body: unknown) => {
    const res = await stack.request<ErrorResponse>(method, path, body);
    expect(res.status).toBe(422);
    return res.body.error.details;
  };

  test('a wrong condition type', async () => {
    const details = await refused('POST', '/api/segments', {
      name: 'x',
      definition: {
        groups: [{ conditions: [{ type: 'event_property', property: 'x', operator: 'is_set' }] }],
      },
    });
    expect(details).toEqual([
      {
        path: 'definition.groups.0.conditions.0.type',
        message: 'type must be one of profile_property, list_membership, metric',
      },
    ]);
  });

  test('an unknown list id in a list membership condition', async () => {
    const details = await refused('POST', '/api/segments', {
      name: 'x',
      definition: {
        groups: [{ conditions: [{ type: 'list_membership', listId: 'lst_missing', operator: 'in' }] }],
      },
    });
    expect(details).toEqual([
      { path: 'definition.groups.0.conditions.0.listId', message: 'no list has the id lst_missing' },
    ]);
  });

  test('more than 100 conditions', async () => {
    const conditions = Array.from({ length: 101 }, (_, i) => ({
      type: 'profile_property',
      property: `p${i}`,
      operator: 'is_set',
    }));
    const details = await refused('POST', '/api/segments', {
      name: 'x',
      definition: { groups: [{ conditions }] },
    });
    expect(details).toEqual([{ path: 'definition', message: 'a segment may have at most 100 conditions' }]);
  });

  test('a bad value on edit, and nothing half-applied', async () => {
    const created = await stack.request<PublicSegment>('POST', '/api/segments', {
      name: 'Edit me',
      definition: equals('x', 1),
    });
    const details = await refused('PATCH', `/api/segments/${created.body.id}`, {
      name: 'Renamed',
      definition: {
        groups: [
          {
            conditions: [{ type: 'profile_property', property: 'x', operator: 'greater_than', value: 'ten' }],
          },
        ],
      },
    });
    expect(details).toEqual([
      { path: 'definition.groups.0.conditions.0.value', message: 'must be a number for greater_than' },
    ]);
    expect(await getSegment(created.body.id)).toMatchObject({ name: 'Edit me', version: 1 });
  });
});
