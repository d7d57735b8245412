import type { SeriesPoint } from '../../analytics/store';
import type { DeliveryStatus } from '../../db/schema';

export interface ChartBar {
  x: number;
  width: number;
  label: string;
  /** Stacked from the bottom: delivered, retrying, failed, skipped. */
  segments: {
    y: number;
    height: number;
    kind: (typeof KINDS)[number];
    count: number;
  }[];
}

export interface ChartGeometry {
  width: number;
  height: number;
  max: number;
  bars: ChartBar[];
  empty: boolean;
}

const KINDS = ['delivered', 'retrying', 'failed', 'skipped'] as const satisfies readonly DeliveryStatus[];

/**
 * Bars for an inline SVG chart of deliveries over time, one per bucket of the range (buckets
 * without deliveries are drawn empty, so time reads left to right at a constant pace).
 */
export function chartGeometry(
  points: readonly SeriesPoint[],
  range: { from: string; to: string; interval: 'hour' | 'day' },
  size = { width: 600, height: 120 },
): ChartGeometry {
  const step = range.interval === 'hour' ? 3_600_000 : 86_400_000;
  const start = Math.floor(Date.parse(range.from) / step) * step;
  const end = Math.floor(Date.parse(range.to) / step) * step;
  const byTime = new Map(points.map((p) => [Date.parse(p.t), p]));
  const slots: { t: number; p: SeriesPoint | undefined }[] = [];
  for (let t = start; t <= end && slots.length < 400; t += step) slots.push({ t, p: byTime.get(t) });
  const totals = slots.map((s) => (s.p ? KINDS.reduce((n, k) => n + s.p![k], 0) : 0));
  const max = Math.max(1, ...totals);
  const slotWidth = size.width / Math.max(1, slots.length);
  const bars = slots.map((s, i): ChartBar => {
    let y = size.height;
    const segments: ChartBar['segments'] = [];
    for (const kind of KINDS) {
      const count = s.p ? s.p[kind] : 0;
      if (count === 0) continue;
      const height = Math.max(1, (count / max) * (size.height - 4));
      y -= height;
      segments.push({ y: Math.round(y * 10) / 10, height: Math.round(height * 10) / 10, kind, count });
    }
    return {
      x: Math.round(i * slotWidth * 10) / 10,
      width: Math.max(1, Math.round((slotWidth - 1) * 10) / 10),
      label: new Date(s.t).toISOString(),
      segments,
    };
  });
  return { ...size, max, bars, empty: totals.every((t) => t === 0) };
}
