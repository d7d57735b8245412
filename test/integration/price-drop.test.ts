import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { poll, Stack } from '../harness/stack';
import type { ErrorResponse, PublicFlow } from '../support/api-types';

/**
 * Price-drop flows end to end (issue 12): a 20% drop fans out to the item's viewers and
 * checkout starters in the lookback, not to a buyer, an old viewer, or when the item is out of
 * stock; the same update again starts nothing; bad catalog input is refused naming the field.
 */

let stack: Stack;
let receiver: Receiver;
let flow: PublicFlow;
const HOOK_PATH = `/price-drop-${process.pid}`;

beforeAll(async () => {
  const pki = createTestPki();
  receiver = await Receiver.start(pki.good);
  stack = await Stack.start({ name: 'price-drop', caCert: pki.caCert });
  const res = await stack.request<PublicFlow>('POST', '/api/flows', {
    name: 'price drop',
    trigger: {
      type: 'price_drop',
      threshold: { percent: 10 },
      audience: ['viewed', 'started_checkout'],
      lookbackDays: 30,
    },
    status: 'live',
    steps: [
      {
        id: 'hook',
        type: 'webhook',
        url: receiver.url(HOOK_PATH),
        body:
          '{"email": "{{ person.email }}", "item": "{{ event.item.id }}", "title": "{{ event.item.title }}", ' +
          '"url": "{{ event.item.url }}", "price": {{ event.price }}, "previous": {{ event.previous_price }}, ' +
          '"amount": {{ event.drop_amount }}, "percent": {{ event.drop_percent }}, "currency": "{{ event.currency }}"}',
      },
    ],
  });
  if (res.status !== 201) throw new Error(`flow not created: ${res.status} ${JSON.stringify(res.body)}`);
  flow = res.body;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

let counter = 0;
const unique = (label: string) => `${label}-${process.pid}-${++counter}`;
const DAY_MS = 86_400_000;

interface PutBody {
  item: { id: string; price: number };
  drop?: { id: string; flows: string[] };
}
interface DropBody {
  fanouts: { flowId: string; status: string; candidates: number; processed: number; started: number }[];
}

async function event(email: string, metric: string, properties: Record<string, unknown>, time?: Date) {
  const res = await stack.request('POST', '/api/events', {
    metric,
    profile: { email },
    properties,
    ...(time ? { time: time.toISOString() } : {}),
  });
  if (res.status !== 202) throw new Error(`event refused: ${res.status} ${JSON.stringify(res.body)}`);
}

function item(price: number, extra: Record<string, unknown> = {}) {
  return {
    title: 'Trail shoe',
    url: 'https://shop.example.com/p/trail',
    price,
    currency: 'USD',
    inStock: true,
    ...extra,
  };
}

async function put(id: string, body: unknown) {
  return stack.request<PutBody & ErrorResponse>('PUT', `/api/catalog/items/${id}`, body);
}

async function fanoutDone(dropId: string) {
  return poll(
    async () => (await stack.request<DropBody>('GET', `/api/catalog/drops/${dropId}`)).body,
    (d) => d.fanouts.every((f) => f.status === 'done' || f.status === 'stopped_out_of_stock'),
  );
}

const bodiesFor = (itemId: string) =>
  receiver
    .received(HOOK_PATH)
    .map((r) => JSON.parse(r.body) as Record<string, unknown>)
    .filter((b) => b.item === itemId);

test('a 20% drop starts runs for viewers and checkout starters in the lookback, not for a buyer or an old viewer; the same update again starts nothing', async () => {
  const sku = unique('sku');
  const mail = (who: string) => `${who}-${sku}@example.com`;
  expect((await put(sku, item(50))).status).toBe(200);
  await event(mail('viewer'), 'Viewed Product', { ProductID: sku });
  await event(mail('checkout'), 'Started Checkout', { items: [{ id: sku, quantity: 1 }] });
  await event(mail('buyer'), 'Viewed Product', { item_id: sku });
  await event(mail('buyer'), 'Placed Order', { Items: [{ ProductID: sku }] });
  await event(mail('old'), 'Viewed Product', { ProductID: sku }, new Date(Date.now() - 45 * DAY_MS));
  await event(mail('elsewhere'), 'Viewed Product', { ProductID: `${sku}-other` });

  const dropped = await put(sku, item(40));
  expect(dropped.status).toBe(200);
  expect(dropped.body.drop?.flows).toContain(flow.id);
  const progress = await fanoutDone(dropped.body.drop!.id);
  expect(progress.fanouts.find((f) => f.flowId === flow.id)).toMatchObject({ status: 'done', started: 2 });

  await poll(
    () => Promise.resolve(bodiesFor(sku).length),
    (n) => n >= 2,
  );
  const bodies = bodiesFor(sku);
  expect(bodies.map((b) => b.email).sort()).toEqual([mail('checkout'), mail('viewer')]);
  expect(bodies[0]).toMatchObject({
    title: 'Trail shoe',
    url: 'https://shop.example.com/p/trail',
    price: 40,
    previous: 50,
    amount: 10,
    percent: 20,
    currency: 'USD',
  });

  // The same update again: no price change, no drop, nothing started.
  const again = await put(sku, item(40));
  expect(again.status).toBe(200);
  expect(again.body.drop).toBeUndefined();
  const history = await stack.request<{ priceHistory: { price: number }[] }>(
    'GET',
    `/api/catalog/items/${sku}`,
  );
  expect(history.body.priceHistory.map((p) => p.price)).toEqual([40, 50]);
  await new Promise((r) => setTimeout(r, 3000));
  expect(bodiesFor(sku)).toHaveLength(2);
});

test('a drop on an out-of-stock item starts nothing; a drop under the threshold fans out to no flow', async () => {
  const sku = unique('sku');
  expect((await put(sku, item(50))).status).toBe(200);
  await event(`viewer-${sku}@example.com`, 'Viewed Product', { ProductID: sku });
  const out = await put(sku, item(30, { inStock: false }));
  expect(out.body.drop?.flows).toContain(flow.id);
  const progress = await fanoutDone(out.body.drop!.id);
  expect(progress.fanouts.find((f) => f.flowId === flow.id)).toMatchObject({
    status: 'stopped_out_of_stock',
    started: 0,
  });
  const small = await put(sku, item(29, { inStock: true }));
  expect(small.body.drop?.flows).toEqual([]);
  await new Promise((r) => setTimeout(r, 3000));
  expect(bodiesFor(sku)).toHaveLength(0);
});

test('bad catalog input and a zero threshold are refused naming the field', async () => {
  const sku = unique('sku');
  const negative = await put(sku, item(-1));
  expect(negative.status).toBe(422);
  expect(negative.body.error.details.map((d) => d.path)).toEqual(['price']);
  const badCurrency = await put(sku, item(10, { currency: 'US' }));
  expect(badCurrency.status).toBe(422);
  expect(badCurrency.body.error.details.map((d) => d.path)).toEqual(['currency']);
  expect((await put(sku, item(10))).status).toBe(200);
  const mismatch = await put(sku, item(10, { currency: 'EUR' }));
  expect(mismatch.status).toBe(422);
  expect(mismatch.body.error.details.map((d) => d.path)).toEqual(['currency']);
  const zero = await stack.request<ErrorResponse>('POST', '/api/flows', {
    name: 'zero',
    trigger: { type: 'price_drop', threshold: { amount: 0 } },
    steps: [],
  });
  expect(zero.status).toBe(422);
  expect(zero.body.error.details.map((d) => d.path)).toEqual(['trigger.threshold.amount']);
});

test("a price-drop flow's variables list the drop's event; a preview renders a sample drop", async () => {
  const vars = await stack.request<{ variables: { path: string }[] }>(
    'GET',
    `/api/flows/${flow.id}/variables`,
  );
  expect(vars.status).toBe(200);
  const paths = vars.body.variables.map((v) => v.path);
  expect(paths).toEqual(
    expect.arrayContaining([
      '{{ person.email }}',
      '{{ event.item }}',
      '{{ event.price }}',
      '{{ event.previous_price }}',
      '{{ event.drop_amount }}',
      '{{ event.drop_percent }}',
      '{{ event.currency }}',
    ]),
  );
  const preview = await stack.request<{ body: string; valid: boolean }>(
    'POST',
    `/api/flows/${flow.id}/steps/hook/preview`,
    {},
  );
  expect(preview.status).toBe(200);
  expect(preview.body.valid).toBe(true);
  expect(JSON.parse(preview.body.body)).toMatchObject({
    title: 'Sample product',
    price: 40,
    previous: 50,
    percent: 20,
  });
});
