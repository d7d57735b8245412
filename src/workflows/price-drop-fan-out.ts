import { continueAsNew, defineQuery, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FanOutPageResult, PriceDropFanOutInput } from '../shared/run-types';
import { fanOutActivityOptions } from './activity-options';

const { fanOutPriceDropPage } = proxyActivities<Activities>(fanOutActivityOptions);

/**
 * Continue as new well before Temporal's history limits: each page adds a handful of events, so
 * the history of one execution stays small however large the audience.
 */
const MAX_HISTORY_EVENTS = 1_000;
const MAX_PAGES_PER_EXECUTION = 100;

/** Pages this execution has entered (since its last continue-as-new). */
export const fanOutPagesQuery = defineQuery<number>('fanOutPages');

/**
 * Enters the audience of one price drop into one price-drop flow, a page of profiles per activity.
 * The cursor and progress live in the database (`price_drop_fanouts`), so a continued or retried
 * execution resumes where the last page committed; run ids are deterministic per (flow, profile,
 * drop), so a page entered twice starts nothing twice.
 */
export async function priceDropFanOut(input: PriceDropFanOutInput): Promise<void> {
  let pages = 0;
  setHandler(fanOutPagesQuery, () => pages);
  for (;;) {
    const page: FanOutPageResult = await fanOutPriceDropPage(input);
    pages++;
    if (page.done) return;
    if (pages >= MAX_PAGES_PER_EXECUTION || workflowInfo().historyLength >= MAX_HISTORY_EVENTS) {
      await continueAsNew<typeof priceDropFanOut>(input);
    }
  }
}
