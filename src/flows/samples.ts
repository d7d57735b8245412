import type { EventStore } from '../db/event-store';
import { buildContext } from '../templates/context';
import type { RunContext } from '../shared/run-types';
import type { Trigger } from './model';
import { priceDropEvent } from './price-drop';

/** What a template is previewed and checked with when no real event of the trigger exists yet. */
export const SAMPLE_PROFILE: Record<string, unknown> = {
  email: 'sample.customer@example.com',
  phone_number: '+14155550100',
  external_id: 'sample-1',
  first_name: 'Sample',
  last_name: 'Customer',
  properties: { loyalty_id: 'L-0000' },
};

export const SAMPLE_EVENT: Record<string, unknown> = {
  value: 99.5,
  currency: 'USD',
  order_id: 'sample-order-1',
  items: [
    { name: 'Sample product', sku: 'SKU-1', price: 49.75, quantity: 2 },
    { name: 'Gift wrap', sku: 'SKU-2', price: 0, quantity: 1 },
  ],
};

/** The `event` of a price-drop run, as previews show it before any real drop. */
export const SAMPLE_PRICE_DROP_EVENT: Record<string, unknown> = priceDropEvent(
  { id: 'SKU-1', title: 'Sample product', url: 'https://shop.example.com/p/sku-1', imageUrl: null },
  { previous: 50, price: 40 },
  'USD',
);

export interface SampleContext {
  context: RunContext;
  source: 'recent_event' | 'recent_profile' | 'sample';
  eventId?: string;
}

/**
 * The most recent real event of the trigger (with its profile as it arrived), else sample data.
 * List and segment flows have no event: the most recent profile, else the sample profile, with `event` empty.
 */
export async function sampleContext(events: EventStore, trigger: Trigger): Promise<SampleContext> {
  if (trigger.type !== 'metric') {
    // Price-drop flows see a sample drop beside the profile; list and segment flows no event.
    const event = trigger.type === 'price_drop' ? SAMPLE_PRICE_DROP_EVENT : {};
    const profile = await events.latestProfile();
    if (profile) return { context: buildContext(profile.data, event, profile.id), source: 'recent_profile' };
    return { context: buildContext(SAMPLE_PROFILE, event, 'prf_sample'), source: 'sample' };
  }
  const latest = await events.latestEvent(trigger.metric);
  if (latest) {
    return {
      context: buildContext(latest.profile, latest.properties, latest.profileId),
      source: 'recent_event',
      eventId: latest.id,
    };
  }
  return { context: buildContext(SAMPLE_PROFILE, SAMPLE_EVENT, 'prf_sample'), source: 'sample' };
}
