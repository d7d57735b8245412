import {
  dropOf,
  inDropAudience,
  meetsThreshold,
  orderContains,
  viewedItem,
} from '../../src/flows/price-drop';
import { triggerSchema } from '../../src/flows/model';

describe('the drop rule', () => {
  test('a percent threshold is met at exactly the percentage, not below it', () => {
    expect(meetsThreshold({ percent: 20 }, { previous: 50, price: 40 })).toBe(true);
    expect(meetsThreshold({ percent: 20 }, { previous: 50, price: 40.01 })).toBe(false);
    expect(meetsThreshold({ percent: 10 }, { previous: 0.3, price: 0.27 })).toBe(true);
  });
  test('an amount threshold compares in cents', () => {
    expect(meetsThreshold({ amount: 5 }, { previous: 19.99, price: 14.99 })).toBe(true);
    expect(meetsThreshold({ amount: 5 }, { previous: 19.99, price: 15 })).toBe(false);
  });
  test('an increase or an unchanged price is never a drop', () => {
    expect(meetsThreshold({ amount: 0.01 }, { previous: 10, price: 10 })).toBe(false);
    expect(meetsThreshold({ percent: 1 }, { previous: 10, price: 12 })).toBe(false);
  });
  test('the drop amount and percentage', () => {
    expect(dropOf({ previous: 50, price: 40 })).toEqual({ amount: 10, percent: 20 });
    expect(dropOf({ previous: 0.3, price: 0.1 })).toEqual({ amount: 0.2, percent: 66.67 });
  });
  test('a threshold of 0 is refused, naming it', () => {
    const r = triggerSchema.safeParse({ type: 'price_drop', threshold: { percent: 0 } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['threshold', 'percent']);
  });
  test('defaults: both audiences, 30 days', () => {
    expect(triggerSchema.parse({ type: 'price_drop', threshold: { amount: 5 } })).toEqual({
      type: 'price_drop',
      threshold: { amount: 5 },
      audience: ['viewed', 'started_checkout'],
      lookbackDays: 30,
    });
  });
});

describe('item matching', () => {
  test('a view names its item by ProductID or item_id, numbers included', () => {
    expect(viewedItem({ ProductID: 'sku-1' }, 'sku-1')).toBe(true);
    expect(viewedItem({ item_id: 42 }, '42')).toBe(true);
    expect(viewedItem({ ProductID: 'sku-10' }, 'sku-1')).toBe(false);
    expect(viewedItem({ id: 'sku-1' }, 'sku-1')).toBe(false);
  });
  test('an order or checkout contains the item through items/Items entries with ProductID or id', () => {
    expect(orderContains({ items: [{ ProductID: 'sku-1' }] }, 'sku-1')).toBe(true);
    expect(orderContains({ Items: [{ id: 'sku-1' }] }, 'sku-1')).toBe(true);
    expect(orderContains({ items: [{ sku: 'sku-1' }] }, 'sku-1')).toBe(false);
    expect(orderContains({ items: 'sku-1' }, 'sku-1')).toBe(false);
  });
});

describe('the audience', () => {
  const since = '2026-11-01T00:00:00.000Z';
  const all = { audience: ['viewed', 'started_checkout'] as ('viewed' | 'started_checkout')[] };
  const view = (time: string) => ({ metric: 'Viewed Product', time, properties: { ProductID: 'sku-1' } });
  test('a view in the lookback qualifies; one before it does not', () => {
    expect(inDropAudience(all, 'sku-1', [view('2026-11-20T00:00:00Z')], since)).toBe(true);
    expect(inDropAudience(all, 'sku-1', [view('2026-10-20T00:00:00Z')], since)).toBe(false);
  });
  test('a started checkout qualifies only when the audience includes it', () => {
    const checkout = {
      metric: 'Started Checkout',
      time: '2026-11-20T00:00:00Z',
      properties: { items: [{ id: 'sku-1' }] },
    };
    expect(inDropAudience(all, 'sku-1', [checkout], since)).toBe(true);
    expect(inDropAudience({ audience: ['viewed'] }, 'sku-1', [checkout], since)).toBe(false);
  });
  test('an order containing the item excludes, whenever it was placed', () => {
    const order = {
      metric: 'Placed Order',
      time: '2026-01-01T00:00:00Z',
      properties: { Items: [{ ProductID: 'sku-1' }] },
    };
    expect(inDropAudience(all, 'sku-1', [view('2026-11-20T00:00:00Z'), order], since)).toBe(false);
    const other = { ...order, properties: { Items: [{ ProductID: 'sku-2' }] } };
    expect(inDropAudience(all, 'sku-1', [view('2026-11-20T00:00:00Z'), other], since)).toBe(true);
  });
});
