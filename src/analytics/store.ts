import { sql } from 'kysely';
import type { Db } from '../db';
import type { AttemptClass, DeliveryStatus } from '../db/schema';
import { DELIVERY_STATUSES } from '../db/schema';
import { dayOf, hourOf, percentileFromBuckets } from '../db/buckets';
import type { AttemptRecord } from '../db/delivery-store';
import { UNKNOWN_OUTCOME_REASON } from '../db/delivery-store';

export interface Scope {
  flowId?: string;
  stepId?: string;
}

export interface StatsQuery extends Scope {
  from: string;
  to: string;
}

export interface SeriesPoint extends Record<DeliveryStatus, number> {
  t: string;
}

export interface Stats {
  from: string;
  to: string;
  counts: Record<DeliveryStatus, number>;
  total: number;
  /** Delivered out of deliveries that ended (delivered, failed, skipped); null when none ended. */
  successRate: number | null;
  /** Of delivered deliveries, from the latency roll-ups (within 10%). */
  latencyMs: { p50: number | null; p95: number | null };
  /** How many attempts deliveries took: [{ attempts, count }]. */
  attempts: { attempts: number; count: number }[];
  series: { interval: 'hour' | 'day'; points: SeriesPoint[] };
}

export interface ListQuery extends Scope {
  status?: DeliveryStatus;
  cursor?: string;
  limit: number;
}

export interface DeliverySummary {
  id: string;
  flowId: string;
  flowVersion: number;
  stepId: string;
  runId: string;
  profileId: string;
  status: DeliveryStatus;
  attempts: number;
  firstAttemptAt: string | null;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  lastHttpStatus: number | null;
  reason: string | null;
  latencyMs: number | null;
  createdAt: string;
  manual: boolean;
  resendOf: string | null;
  resentTo: string | null;
  resentAt: string | null;
}

/**
 * One attempt as the API shows it: the recorded fields, with the outcome named `class` — also
 * `sending` (its request is out, no answer yet) or `unknown` (its worker died mid-send: the
 * endpoint may have received it).
 */
export type AttemptView = Pick<
  AttemptRecord,
  | 'attempt'
  | 'manual'
  | 'startedAt'
  | 'durationMs'
  | 'httpStatus'
  | 'errorClass'
  | 'reason'
  | 'responseExcerpt'
> & { class: AttemptClass | 'sending' | 'unknown' };

/** One delivery with its attempts, as GET /api/webhooks/deliveries/:id and its page show it. */
export interface DeliveryDetail {
  /**
   * `possibleDuplicate`: the endpoint may have received the request more than once (with the same
   * Idempotency-Key): an attempt of unknown outcome came before the delivered one, or two delivered.
   */
  delivery: DeliverySummary & { possibleDuplicate: boolean };
  attempts: AttemptView[];
}

type DeliveryRowLike = {
  id: string;
  flow_id: string;
  flow_version: number;
  step_id: string;
  run_id: string;
  profile_id: string;
  status: DeliveryStatus;
  attempts: number;
  first_attempt_at: string | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  last_http_status: number | null;
  reason: string | null;
  latency_ms: number | null;
  created_at: string;
  manual: number;
  resend_of: string | null;
  resent_to: string | null;
  resent_at: string | null;
};

const SUMMARY_COLUMNS = [
  'id',
  'flow_id',
  'flow_version',
  'step_id',
  'run_id',
  'profile_id',
  'status',
  'attempts',
  'first_attempt_at',
  'last_attempt_at',
  'next_attempt_at',
  'last_http_status',
  'reason',
  'latency_ms',
  'created_at',
  'manual',
  'resend_of',
  'resent_to',
  'resent_at',
] as const;

export function toSummary(r: DeliveryRowLike): DeliverySummary {
  return {
    id: r.id,
    flowId: r.flow_id,
    flowVersion: r.flow_version,
    stepId: r.step_id,
    runId: r.run_id,
    profileId: r.profile_id,
    status: r.status,
    attempts: r.attempts,
    firstAttemptAt: r.first_attempt_at,
    lastAttemptAt: r.last_attempt_at,
    nextAttemptAt: r.next_attempt_at,
    lastHttpStatus: r.last_http_status,
    reason: r.reason,
    latencyMs: r.latency_ms,
    createdAt: r.created_at,
    manual: r.manual === 1,
    resendOf: r.resend_of,
    resentTo: r.resent_to,
    resentAt: r.resent_at,
  };
}

/** Opaque keyset cursor: the (created_at, id) of the last row of a page. */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

export function decodeCursor(cursor: string): [string, string] | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string')
      return [v[0], v[1]];
  } catch {
    // fall through
  }
  return undefined;
}

/** One webhook step's totals over a range, from the grouped roll-up queries. */
export interface StepTotals {
  flowId: string;
  stepId: string;
  counts: Record<DeliveryStatus, number>;
  /** Delivered out of deliveries that ended; null when none ended. */
  successRate: number | null;
  /** Of delivered deliveries, from the latency roll-ups (within 10%); null when none. */
  p95Ms: number | null;
}

/** One flow's totals over a range. */
export interface FlowTotals {
  flowId: string;
  counts: Record<DeliveryStatus, number>;
  total: number;
}

const zeroCounts = (): Record<DeliveryStatus, number> =>
  Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, 0])) as Record<DeliveryStatus, number>;

const successRateOf = (c: Record<DeliveryStatus, number>): number | null => {
  const ended = c.delivered + c.failed + c.skipped;
  return ended === 0 ? null : c.delivered / ended;
};

/** The roll-up grain and periods a range reads: hourly up to 3 days, daily (whole UTC days) beyond. */
function rollupWindow(q: { from: string; to: string }): {
  interval: 'hour' | 'day';
  grain: 'h' | 'd';
  fromP: string;
  toP: string;
} {
  const hours = (Date.parse(q.to) - Date.parse(q.from)) / 3_600_000;
  const interval: 'hour' | 'day' = hours <= 72 ? 'hour' : 'day';
  const cut = interval === 'hour' ? hourOf : dayOf;
  return { interval, grain: interval === 'hour' ? 'h' : 'd', fromP: cut(q.from), toP: cut(q.to) };
}

/** The analytics queries, each served by an index or by the hourly roll-ups. */
export class AnalyticsStore {
  constructor(private readonly db: Db) {}

  /**
   * One pass over the roll-ups: hourly ones for ranges up to 3 days, daily ones beyond (those
   * ranges count whole UTC days). Counts, attempts and the series come from the same rows.
   */
  async stats(q: StatsQuery): Promise<Stats> {
    const { interval, grain, fromP, toP } = rollupWindow(q);

    let rollups = this.db
      .selectFrom('delivery_rollups')
      .select(['period', 'status', 'attempts', sql<number>`sum(count)`.as('n')])
      .where('grain', '=', grain)
      .where('period', '>=', fromP)
      .where('period', '<=', toP);
    if (q.flowId) rollups = rollups.where('flow_id', '=', q.flowId);
    if (q.stepId) rollups = rollups.where('step_id', '=', q.stepId);
    const rows = await rollups.groupBy(['period', 'status', 'attempts']).execute();

    const counts = zeroCounts();
    const attemptCounts = new Map<number, number>();
    const points = new Map<string, SeriesPoint>();
    for (const r of rows) {
      const n = Number(r.n);
      if (n === 0) continue;
      counts[r.status] += n;
      if (r.status === 'delivered' || r.status === 'failed' || r.status === 'skipped') {
        attemptCounts.set(r.attempts, (attemptCounts.get(r.attempts) ?? 0) + n);
      }
      const t = interval === 'hour' ? `${r.period}:00:00.000Z` : `${r.period}T00:00:00.000Z`;
      let p = points.get(t);
      if (!p) {
        p = { t, pending: 0, retrying: 0, delivered: 0, failed: 0, skipped: 0 };
        points.set(t, p);
      }
      p[r.status] += n;
    }
    const total = DELIVERY_STATUSES.reduce((n, s) => n + counts[s], 0);

    let latency = this.db
      .selectFrom('latency_rollups')
      .select(['bucket', sql<number>`sum(count)`.as('n')])
      .where('grain', '=', grain)
      .where('period', '>=', fromP)
      .where('period', '<=', toP);
    if (q.flowId) latency = latency.where('flow_id', '=', q.flowId);
    if (q.stepId) latency = latency.where('step_id', '=', q.stepId);
    const buckets = (await latency.groupBy('bucket').execute()).map((r) => ({
      bucket: r.bucket,
      count: Number(r.n),
    }));

    return {
      from: q.from,
      to: q.to,
      counts,
      total,
      successRate: successRateOf(counts),
      latencyMs: { p50: percentileFromBuckets(buckets, 50), p95: percentileFromBuckets(buckets, 95) },
      attempts: [...attemptCounts.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([attempts, count]) => ({ attempts, count })),
      series: { interval, points: [...points.values()].sort((a, b) => a.t.localeCompare(b.t)) },
    };
  }

  /**
   * Every webhook step's counts, success rate and p95 latency over the range, in two grouped
   * queries over the roll-ups (counts, then latency buckets), however many flows and steps there are.
   */
  async byStep(q: { from: string; to: string }): Promise<StepTotals[]> {
    const { grain, fromP, toP } = rollupWindow(q);
    const [countRows, latencyRows] = await Promise.all([
      this.db
        .selectFrom('delivery_rollups')
        .select(['flow_id', 'step_id', 'status', sql<number>`sum(count)`.as('n')])
        .where('grain', '=', grain)
        .where('period', '>=', fromP)
        .where('period', '<=', toP)
        .groupBy(['flow_id', 'step_id', 'status'])
        .execute(),
      this.db
        .selectFrom('latency_rollups')
        .select(['flow_id', 'step_id', 'bucket', sql<number>`sum(count)`.as('n')])
        .where('grain', '=', grain)
        .where('period', '>=', fromP)
        .where('period', '<=', toP)
        .groupBy(['flow_id', 'step_id', 'bucket'])
        .execute(),
    ]);
    const steps = new Map<
      string,
      { flowId: string; stepId: string; counts: Record<DeliveryStatus, number> }
    >();
    const key = (flowId: string, stepId: string) => JSON.stringify([flowId, stepId]);
    for (const r of countRows) {
      const n = Number(r.n);
      if (n === 0) continue;
      const k = key(r.flow_id, r.step_id);
      let s = steps.get(k);
      if (!s) {
        s = { flowId: r.flow_id, stepId: r.step_id, counts: zeroCounts() };
        steps.set(k, s);
      }
      s.counts[r.status] += n;
    }
    const buckets = new Map<string, { bucket: number; count: number }[]>();
    for (const r of latencyRows) {
      const k = key(r.flow_id, r.step_id);
      const list = buckets.get(k) ?? [];
      list.push({ bucket: r.bucket, count: Number(r.n) });
      buckets.set(k, list);
    }
    return [...steps.entries()].map(([k, s]) => ({
      ...s,
      successRate: successRateOf(s.counts),
      p95Ms: percentileFromBuckets(buckets.get(k) ?? [], 95),
    }));
  }

  /** Every flow's counts over the range, in one grouped query over the roll-ups. */
  async byFlow(q: { from: string; to: string }): Promise<Map<string, FlowTotals>> {
    const { grain, fromP, toP } = rollupWindow(q);
    const rows = await this.db
      .selectFrom('delivery_rollups')
      .select(['flow_id', 'status', sql<number>`sum(count)`.as('n')])
      .where('grain', '=', grain)
      .where('period', '>=', fromP)
      .where('period', '<=', toP)
      .groupBy(['flow_id', 'status'])
      .execute();
    const out = new Map<string, FlowTotals>();
    for (const r of rows) {
      const n = Number(r.n);
      if (n === 0) continue;
      let f = out.get(r.flow_id);
      if (!f) {
        f = { flowId: r.flow_id, counts: zeroCounts(), total: 0 };
        out.set(r.flow_id, f);
      }
      f.counts[r.status] += n;
      f.total += n;
    }
    return out;
  }

  /** Newest first, keyset-paginated on (created_at, id). */
  async list(q: ListQuery): Promise<{ deliveries: DeliverySummary[]; nextCursor: string | null }> {
    let qb = this.db.selectFrom('deliveries').select(SUMMARY_COLUMNS);
    if (q.flowId) qb = qb.where('flow_id', '=', q.flowId);
    if (q.stepId) qb = qb.where('step_id', '=', q.stepId);
    if (q.status) qb = qb.where('status', '=', q.status);
    const after = q.cursor ? decodeCursor(q.cursor) : undefined;
    if (after) {
      const [createdAt, id] = after;
      qb = qb.where((eb) =>
        eb.or([
          eb('created_at', '<', createdAt),
          eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)]),
        ]),
      );
    }
    const rows = await qb
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(q.limit + 1)
      .execute();
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      deliveries: page.map(toSummary),
      nextCursor: rows.length > q.limit && last ? encodeCursor(last.created_at, last.id) : null,
    };
  }

  async get(id: string): Promise<DeliveryDetail | undefined> {
    const row = await this.db
      .selectFrom('deliveries')
      .select(SUMMARY_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const rows = await this.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where('delivery_id', '=', id)
      .orderBy('id')
      .execute();
    const ended = row.status !== 'pending' && row.status !== 'retrying';
    const attempts: AttemptView[] = rows.map((a) => {
      // A row still `sending` behind a later attempt, or after the delivery ended, was never
      // completed: its worker died mid-send (settled in the database when the next attempt starts).
      const later = rows.some((b) => b.manual === a.manual && b.attempt > a.attempt);
      const stale = a.outcome === 'sending' && (later || ended);
      return {
        attempt: a.attempt,
        manual: a.manual === 1,
        startedAt: a.started_at,
        durationMs: a.duration_ms,
        httpStatus: a.http_status,
        errorClass: a.error_class,
        class: stale ? 'unknown' : a.outcome,
        reason: stale ? UNKNOWN_OUTCOME_REASON : a.reason,
        responseExcerpt: a.response_excerpt,
      };
    });
    // Received twice for sure (an attempt that outlived its timeout answered after its retry was
    // sent), or maybe (an attempt of unknown outcome before the delivered one).
    const firstDelivered = attempts.findIndex((a) => a.class === 'delivered');
    const possibleDuplicate =
      attempts.filter((a) => a.class === 'delivered').length > 1 ||
      (firstDelivered > 0 && attempts.slice(0, firstDelivered).some((a) => a.class === 'unknown'));
    return { delivery: { ...toSummary(row), possibleDuplicate }, attempts };
  }
}
