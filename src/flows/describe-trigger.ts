import type { Trigger } from './model';

/**
 * A trigger as people read it in a list: "Metric: Placed Order", "List: VIP", "Date: birthday",
 * "Price drop ≥ 20%". `refName` is the list's or segment's name (the id is shown when it is gone).
 */
export function describeTrigger(trigger: Trigger, refName: string | null = null): string {
  switch (trigger.type) {
    case 'metric':
      return `Metric: ${trigger.metric}`;
    case 'list':
      return `List: ${refName ?? trigger.listId}`;
    case 'segment':
      return `Segment: ${refName ?? trigger.segmentId}`;
    case 'date': {
      const { value, unit, direction } = trigger.offset;
      const offset =
        value === 0 ? '' : ` (${value} ${value === 1 ? unit.replace(/s$/, '') : unit} ${direction})`;
      return `Date: ${trigger.property}${offset}`;
    }
    case 'price_drop':
      return 'percent' in trigger.threshold
        ? `Price drop ≥ ${trigger.threshold.percent}%`
        : `Price drop ≥ ${trigger.threshold.amount}`;
  }
}
