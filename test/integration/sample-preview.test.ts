import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { Stack } from '../harness/stack';
import type { ErrorResponse } from '../support/api-types';
import { postEvent, uniqueMetric } from '../support/flows';

/**
 * Choosing a real sample for a webhook body (issue 13): a profile's recent events, and preview or
 * test send with a stored profile and event by id, a draft body, or a body of a step not saved yet.
 */

interface ProfileEventsPage {
  events: {
    id: string;
    metric: string;
    time: string;
    uniqueId: string | null;
    properties: Record<string, unknown>;
  }[];
  next: string | null;
}
interface Preview {
  body: string;
  valid: boolean;
  error?: { message: string; line?: number; column?: number };
  contextSource: string;
}

let stack: Stack;
let receiver: Receiver;
let metric: string;
let otherMetric: string;
let flowId: string;
let listFlowId: string;
let ada: string;
let grace: string;
const adaEvents: string[] = [];
let graceEvent: string;
let otherMetricEvent: string;

const BODY =
  '{"who": "{{ person.first_name }}", "value": {{ event.value|default:0 }}, "id": "{{ person.id }}"}';

async function profileId(email: string): Promise<string> {
  const res = await stack.request<{ profiles: { id: string }[] }>(
    'GET',
    `/api/profiles?email=${encodeURIComponent(email)}`,
  );
  return res.body.profiles[0]!.id;
}

let posted = 0;
/** Posts an event for `email` and returns its id, found among the profile's events by its unique id. */
async function eventIdOf(email: string, m: string, extra: Record<string, unknown>): Promise<string> {
  const uniqueId = `sample-${process.pid}-${++posted}`;
  await postEvent(stack, m, {
    profile: { email, first_name: email.split('@')[0] },
    unique_id: uniqueId,
    ...extra,
  });
  const pid = await profileId(email);
  const page = await stack.request<ProfileEventsPage>('GET', `/api/profiles/${pid}/events?limit=50`);
  return page.body.events.find((e) => e.uniqueId === uniqueId)!.id;
}

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'sample-preview', caCert: pki.caCert });
  metric = uniqueMetric('Sampled');
  otherMetric = uniqueMetric('Other');
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'sample preview',
    trigger: { type: 'metric', metric },
    status: 'draft',
    steps: [{ id: 'hook', type: 'webhook', url: receiver.url('/sample'), body: BODY }],
  });
  flowId = flow.body.id;
  const list = await stack.request<{ id: string }>('POST', '/api/lists', { name: 'Sample list' });
  const listFlow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: 'list sample',
    trigger: { type: 'list', listId: list.body.id },
    status: 'draft',
    steps: [
      { id: 'hook', type: 'webhook', url: receiver.url('/list'), body: '{"who": "{{ person.email }}"}' },
    ],
  });
  listFlowId = listFlow.body.id;
  // Three events of Ada's at known times (posted out of order), one of Grace's, one of another metric.
  for (const [value, time] of [
    [1, '2026-11-01T10:00:00Z'],
    [3, '2026-11-03T10:00:00Z'],
    [2, '2026-11-02T10:00:00Z'],
  ] as const) {
    adaEvents.push(await eventIdOf('ada@example.com', metric, { properties: { value }, time }));
  }
  ada = await profileId('ada@example.com');
  graceEvent = await eventIdOf('grace@example.com', metric, { properties: { value: 7 } });
  grace = await profileId('grace@example.com');
  otherMetricEvent = await eventIdOf('ada@example.com', otherMetric, { properties: { value: 99 } });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

describe('GET /api/profiles/:id/events', () => {
  test('newest first by event time, filtered by metric, paged with next', async () => {
    const first = await stack.request<ProfileEventsPage>(
      'GET',
      `/api/profiles/${ada}/events?metric=${encodeURIComponent(metric)}&limit=2`,
    );
    expect(first.status).toBe(200);
    expect(first.body.events.map((e) => e.properties.value)).toEqual([3, 2]);
    expect(first.body.events[0]).toMatchObject({ metric, time: '2026-11-03T10:00:00.000Z' });
    expect(first.body.next).toEqual(expect.any(String));
    const second = await stack.request<ProfileEventsPage>(
      'GET',
      `/api/profiles/${ada}/events?metric=${encodeURIComponent(metric)}&limit=2&after=${first.body.next}`,
    );
    expect(second.body.events.map((e) => e.properties.value)).toEqual([1]);
    expect(second.body.next).toBeNull();

    const all = await stack.request<ProfileEventsPage>('GET', `/api/profiles/${ada}/events`);
    expect(all.body.events.map((e) => e.metric).sort()).toEqual([metric, metric, metric, otherMetric].sort());
  });

  test('an unknown profile is a 404, a bad cursor or limit a 422 naming it', async () => {
    const missing = await stack.request<ErrorResponse>('GET', '/api/profiles/prf_nobody/events');
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe('profile prf_nobody was not found');
    const cursor = await stack.request<ErrorResponse>('GET', `/api/profiles/${ada}/events?after=nonsense`);
    expect(cursor.status).toBe(422);
    expect(cursor.body.error.details).toEqual([
      { path: 'after', message: 'is not a cursor this API returned' },
    ]);
    const limit = await stack.request<ErrorResponse>('GET', `/api/profiles/${ada}/events?limit=500`);
    expect(limit.status).toBe(422);
    expect(limit.body.error.details[0]!.path).toBe('limit');
  });

  test('needs profiles:read: a key without it is refused, also when a preview names a profile or event', async () => {
    const key = await stack.requestAs<{ key: string }>(stack.owner!.session.token, 'POST', '/api/keys', {
      name: 'flows only',
      scopes: ['flows:read'],
    });
    const res = await stack.requestAs<ErrorResponse>(key.body.key, 'GET', `/api/profiles/${ada}/events`);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('scope_missing');
    // Nor may it read a profile through a preview or a test send that names one.
    const plain = await stack.requestAs(key.body.key, 'POST', `/api/flows/${flowId}/steps/hook/preview`, {});
    expect(plain.status).toBe(200);
    for (const body of [{ profileId: ada }, { eventId: adaEvents[0] }]) {
      const named = await stack.requestAs<ErrorResponse>(
        key.body.key,
        'POST',
        `/api/flows/${flowId}/steps/hook/preview`,
        body,
      );
      expect(named.status).toBe(403);
      expect(named.body.error.code).toBe('scope_missing');
      const draft = await stack.requestAs<ErrorResponse>(
        key.body.key,
        'POST',
        `/api/flows/${flowId}/preview`,
        {
          ...body,
          body: '{}',
        },
      );
      expect(draft.status).toBe(403);
    }
  });
});

describe('preview and test send with a chosen profile and event', () => {
  const preview = (body: unknown, path = `/api/flows/${flowId}/steps/hook/preview`) =>
    stack.request<Preview & ErrorResponse>('POST', path, body);

  test('eventId renders that event with its profile; profileId alone takes the profile now', async () => {
    const byEvent = await preview({ eventId: adaEvents[0] });
    expect(byEvent.status).toBe(200);
    expect(byEvent.body.contextSource).toBe('chosen');
    expect(JSON.parse(byEvent.body.body)).toEqual({ who: 'ada', value: 1, id: ada });

    const both = await preview({ profileId: grace, eventId: graceEvent });
    expect(JSON.parse(both.body.body)).toEqual({ who: 'grace', value: 7, id: grace });

    const profileOnly = await preview({ profileId: grace });
    expect(JSON.parse(profileOnly.body.body)).toMatchObject({ who: 'grace', id: grace });
  });

  test('unknown ids are 404s; an event of another metric or another profile a 422 saying why', async () => {
    const noEvent = await preview({ eventId: 'evt_missing' });
    expect(noEvent.status).toBe(404);
    expect(noEvent.body.error.message).toBe('event evt_missing was not found');
    const noProfile = await preview({ profileId: 'prf_missing' });
    expect(noProfile.status).toBe(404);

    const wrongMetric = await preview({ eventId: otherMetricEvent });
    expect(wrongMetric.status).toBe(422);
    expect(wrongMetric.body.error.details).toEqual([
      {
        path: 'eventId',
        message: `event ${otherMetricEvent} is a "${otherMetric}" event; this flow is triggered by "${metric}"`,
      },
    ]);
    const wrongProfile = await preview({ profileId: ada, eventId: graceEvent });
    expect(wrongProfile.status).toBe(422);
    expect(wrongProfile.body.error.details[0]!.message).toMatch(/belongs to another profile/);

    const listEvent = await preview({ eventId: graceEvent }, `/api/flows/${listFlowId}/steps/hook/preview`);
    expect(listEvent.status).toBe(422);
    expect(listEvent.body.error.details[0]).toMatchObject({
      path: 'eventId',
      message: expect.stringMatching(/event variables are not available/) as string,
    });
  });

  test('a draft body is previewed instead of the saved one, its template error with line and column', async () => {
    const draft = await preview({ profileId: ada, eventId: adaEvents[1], body: '{"v": {{ event.value }}}' });
    expect(draft.body).toMatchObject({ valid: true, body: '{"v": 3}' });

    const broken = await preview({ body: '{\n  "a": 1,\n  "b": "{{ person.email|nosuchfilter }}"\n}' });
    expect(broken.status).toBe(200);
    expect(broken.body.valid).toBe(false);
    expect(broken.body.error).toMatchObject({
      line: 3,
      message: expect.stringMatching(/nosuchfilter/) as string,
    });

    const notJson = await preview({ body: '{\n  "a": {{ person.first_name }}\n}', profileId: ada });
    expect(notJson.body.valid).toBe(false);
    expect(notJson.body.error).toMatchObject({ line: 2 });
  });

  test('POST /api/flows/:id/preview renders a body of a step not saved yet', async () => {
    const res = await preview(
      { body: '{"email": "{{ person.email }}", "value": {{ event.value }}}', eventId: adaEvents[2] },
      `/api/flows/${flowId}/preview`,
    );
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.body)).toEqual({ email: 'ada@example.com', value: 2 });
    const missing = await preview({}, `/api/flows/${flowId}/preview`);
    expect(missing.status).toBe(422);
    expect(missing.body.error.details).toEqual([{ path: 'body', message: expect.any(String) as string }]);
    const unknownFlow = await preview({ body: '{}' }, '/api/flows/flw_missing/preview');
    expect(unknownFlow.status).toBe(404);
  });

  test('test send posts the saved body rendered for the chosen event; a draft body is refused', async () => {
    const res = await stack.request<Record<string, unknown>>('POST', `/api/flows/${flowId}/steps/hook/test`, {
      eventId: adaEvents[1],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sent: true, httpStatus: 200, contextSource: 'chosen' });
    const [req] = receiver.received('/sample');
    expect(JSON.parse(req!.body)).toEqual({ who: 'ada', value: 3, id: ada });

    const draft = await stack.request<ErrorResponse>('POST', `/api/flows/${flowId}/steps/hook/test`, {
      body: '{}',
    });
    expect(draft.status).toBe(422);
    expect(draft.body.error.details).toEqual([{ path: 'body', message: 'is not a known field' }]);
  });
});

describe('price-drop flows preview with the drop of the item a chosen event names', () => {
  test('a Viewed Product event gives the item and its last price change; another metric is refused', async () => {
    const item = `SHOE-${process.pid}`;
    await stack.request('PUT', `/api/catalog/items/${item}`, {
      title: 'Trail shoe',
      price: 50,
      currency: 'USD',
    });
    await stack.request('PUT', `/api/catalog/items/${item}`, {
      title: 'Trail shoe',
      price: 40,
      currency: 'USD',
    });
    const viewed = await eventIdOf('vera@example.com', 'Viewed Product', { properties: { ProductID: item } });
    const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
      name: 'drop sample',
      trigger: { type: 'price_drop', threshold: { percent: 10 } },
      status: 'draft',
      steps: [
        {
          id: 'hook',
          type: 'webhook',
          url: receiver.url('/drop'),
          body: '{"who": "{{ person.email }}", "item": "{{ event.item.title }}", "was": {{ event.previous_price }}, "now": {{ event.price }}}',
        },
      ],
    });
    const res = await stack.request<Preview>('POST', `/api/flows/${flow.body.id}/steps/hook/preview`, {
      eventId: viewed,
    });
    expect(JSON.parse(res.body.body)).toEqual({
      who: 'vera@example.com',
      item: 'Trail shoe',
      was: 50,
      now: 40,
    });

    const other = await stack.request<ErrorResponse>(
      'POST',
      `/api/flows/${flow.body.id}/steps/hook/preview`,
      {
        eventId: graceEvent,
      },
    );
    expect(other.status).toBe(422);
    expect(other.body.error.details[0]!.message).toMatch(/"Viewed Product" or "Started Checkout" event/);
  });
});
