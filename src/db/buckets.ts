/**
 * Latency histogram buckets: geometric, 10% wide, so a percentile read from the roll-ups is
 * within 10% of the exact value. Bucket b holds latencies in [1.1^b - 1, 1.1^(b+1) - 1) ms.
 */
const GROWTH = 1.1;

export function latencyBucket(ms: number): number {
  return Math.max(0, Math.floor(Math.log(Math.max(ms, 0) + 1) / Math.log(GROWTH)));
}

/** The upper edge of a bucket, in whole milliseconds (the value a percentile reports). */
export function bucketUpperMs(bucket: number): number {
  return Math.max(1, Math.round(GROWTH ** (bucket + 1) - 1));
}

/** The roll-up hour of a timestamp: `YYYY-MM-DDTHH` (UTC). */
export function hourOf(iso: string): string {
  return iso.slice(0, 13);
}

/** The roll-up day of a timestamp: `YYYY-MM-DD` (UTC). */
export function dayOf(iso: string): string {
  return iso.slice(0, 10);
}

/** Percentile from (bucket, count) pairs, by nearest rank. */
export function percentileFromBuckets(
  rows: readonly { bucket: number; count: number }[],
  p: number,
): number | null {
  const sorted = [...rows].filter((r) => r.count > 0).sort((a, b) => a.bucket - b.bucket);
  const total = sorted.reduce((n, r) => n + r.count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const r of sorted) {
    seen += r.count;
    if (seen >= rank) return bucketUpperMs(r.bucket);
  }
  return bucketUpperMs(sorted[sorted.length - 1]!.bucket);
}
