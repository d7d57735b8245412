import type { PriceDropThreshold, PriceDropTrigger } from './model';

/**
 * The event names and properties a price drop reads (documented in the README, "Price-drop
 * flows"). Names are compared exactly, as the events API stores them.
 */
export const PRICE_DROP_METRICS = {
  viewed: 'Viewed Product',
  started_checkout: 'Started Checkout',
  placed_order: 'Placed Order',
} as const;
/** Properties of a *Viewed Product* event that name its item. */
export const VIEWED_ITEM_KEYS = ['ProductID', 'item_id'] as const;
/** The list properties of *Started Checkout* and *Placed Order* events… */
export const ORDER_LIST_KEYS = ['items', 'Items'] as const;
/** …and the keys of a list entry that name its item. */
export const ORDER_ITEM_KEYS = ['ProductID', 'id'] as const;

/** Money is compared in hundredths so 0.1 + 0.2 never decides a drop. */
const cents = (n: number) => Math.round(n * 100);

export interface PriceChange {
  previous: number;
  price: number;
}

/** How much and by what percentage the price fell (zero when it did not). */
export function dropOf(change: PriceChange): { amount: number; percent: number } {
  const amount = Math.max(0, cents(change.previous) - cents(change.price)) / 100;
  const percent = change.previous > 0 ? Math.round((amount / change.previous) * 10_000) / 100 : 0;
  return { amount, percent };
}

/** A drop under `threshold`: a decrease of at least the amount, or at least the percentage, of the previous price. */
export function meetsThreshold(threshold: PriceDropThreshold, change: PriceChange): boolean {
  if (cents(change.price) >= cents(change.previous)) return false;
  const { amount } = dropOf(change);
  if ('amount' in threshold) return cents(amount) >= cents(threshold.amount);
  // amount / previous >= percent / 100, without rounding the percentage first.
  return cents(amount) * 100 >= cents(change.previous) * threshold.percent - 1e-9;
}

const sameId = (value: unknown, itemId: string) =>
  (typeof value === 'string' || typeof value === 'number') && String(value) === itemId;

/** Does a *Viewed Product* event's properties name the item (`ProductID` or `item_id`)? */
export function viewedItem(properties: Record<string, unknown>, itemId: string): boolean {
  return VIEWED_ITEM_KEYS.some((k) => sameId(properties[k], itemId));
}

/** Does a *Started Checkout* or *Placed Order* contain the item (an `items`/`Items` entry with `ProductID` or `id`)? */
export function orderContains(properties: Record<string, unknown>, itemId: string): boolean {
  return ORDER_LIST_KEYS.some((list) => {
    const entries = properties[list];
    if (!Array.isArray(entries)) return false;
    return entries.some(
      (e) =>
        e !== null &&
        typeof e === 'object' &&
        ORDER_ITEM_KEYS.some((k) => sameId((e as Record<string, unknown>)[k], itemId)),
    );
  });
}

export interface AudienceEvent {
  metric: string;
  time: string;
  properties: Record<string, unknown>;
}

/**
 * Whether one profile, given its events, is in a price drop's audience: a qualifying view or
 * checkout of the item at or after `since`, and no order containing the item (ever).
 */
export function inDropAudience(
  trigger: Pick<PriceDropTrigger, 'audience'>,
  itemId: string,
  events: readonly AudienceEvent[],
  since: string,
): boolean {
  let qualifies = false;
  for (const e of events) {
    if (e.metric === PRICE_DROP_METRICS.placed_order && orderContains(e.properties, itemId)) return false;
    if (qualifies || Date.parse(e.time) < Date.parse(since)) continue;
    if (
      trigger.audience.includes('viewed') &&
      e.metric === PRICE_DROP_METRICS.viewed &&
      viewedItem(e.properties, itemId)
    )
      qualifies = true;
    if (
      trigger.audience.includes('started_checkout') &&
      e.metric === PRICE_DROP_METRICS.started_checkout &&
      orderContains(e.properties, itemId)
    )
      qualifies = true;
  }
  return qualifies;
}

export interface DropItem {
  id: string;
  title: string;
  url: string | null;
  imageUrl: string | null;
}

/** The `event` a price-drop run's templates see. */
export function priceDropEvent(
  item: DropItem,
  change: PriceChange,
  currency: string,
): Record<string, unknown> {
  const { amount, percent } = dropOf(change);
  return {
    item: { id: item.id, title: item.title, url: item.url, image_url: item.imageUrl },
    price: change.price,
    previous_price: change.previous,
    drop_amount: amount,
    drop_percent: percent,
    currency,
  };
}
