import type { FanOutPageResult, PriceDropFanOutInput } from '../shared/run-types';

/**
 * Enters one page of a price drop's audience into its flow and advances the cursor (implemented
 * by the audience layer, above this one, and given to the worker's activities).
 */
export interface PriceDropPager {
  fanOutPage(input: PriceDropFanOutInput): Promise<FanOutPageResult>;
}

export interface FanOutDeps {
  priceDrops: PriceDropPager;
}

export function createFanOutPriceDropPage(deps: FanOutDeps) {
  return (input: PriceDropFanOutInput): Promise<FanOutPageResult> => deps.priceDrops.fanOutPage(input);
}
