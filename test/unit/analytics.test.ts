import { bucketUpperMs, latencyBucket, percentileFromBuckets } from '../../src/db/buckets';
import { decodeCursor, encodeCursor } from '../../src/analytics/store';
import { chartGeometry } from '../../src/api/pages/chart';

test('latency buckets are within 10% and percentiles read from them', () => {
  for (const ms of [0, 1, 9, 42, 250, 1234, 9999, 60_000]) {
    const upper = bucketUpperMs(latencyBucket(ms));
    expect(upper).toBeGreaterThanOrEqual(ms);
    expect(upper).toBeLessThanOrEqual(Math.max(1, ms * 1.1 + 1));
  }
  const rows = [
    { bucket: latencyBucket(10), count: 50 },
    { bucket: latencyBucket(100), count: 45 },
    { bucket: latencyBucket(1000), count: 5 },
  ];
  expect(percentileFromBuckets(rows, 50)).toBe(bucketUpperMs(latencyBucket(10)));
  expect(percentileFromBuckets(rows, 95)).toBe(bucketUpperMs(latencyBucket(100)));
  expect(percentileFromBuckets(rows, 99)).toBe(bucketUpperMs(latencyBucket(1000)));
  expect(percentileFromBuckets([], 50)).toBeNull();
});

test('cursors round-trip and garbage is refused', () => {
  const c = encodeCursor('2026-11-29T10:00:00.000Z', 'dlv_1');
  expect(decodeCursor(c)).toEqual(['2026-11-29T10:00:00.000Z', 'dlv_1']);
  expect(decodeCursor('zzz')).toBeUndefined();
  expect(decodeCursor(Buffer.from('{"a":1}').toString('base64url'))).toBeUndefined();
});

test('the chart has one bar per bucket of the range, stacked, scaled to the busiest', () => {
  const g = chartGeometry(
    [
      { t: '2026-11-29T08:00:00.000Z', delivered: 4, failed: 1, skipped: 0, retrying: 0, pending: 0 },
      { t: '2026-11-29T10:00:00.000Z', delivered: 1, failed: 0, skipped: 1, retrying: 0, pending: 0 },
    ],
    { from: '2026-11-29T07:30:00Z', to: '2026-11-29T10:30:00Z', interval: 'hour' },
    { width: 400, height: 100 },
  );
  expect(g.bars).toHaveLength(4);
  expect(g.max).toBe(5);
  expect(g.bars[0]!.segments).toEqual([]);
  expect(g.bars[1]!.segments.map((s) => s.kind)).toEqual(['delivered', 'failed']);
  const top = g.bars[1]!.segments[1]!;
  expect(top.y).toBeGreaterThanOrEqual(0);
  expect(g.empty).toBe(false);
});
