import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import type { Db } from '../src/db';
import type { DeliverWebhookResult, FirstAttemptResult } from '../src/shared/run-types';
import { percentile } from './stats';

/**
 * Where the time of one delivery goes, stage by stage, from four clocks on this one machine: the
 * bench (posted), the database (runs.created_at, written in the API's commit), Temporal's history
 * (event times) and the activity's own marks (`DeliverWebhookResult.timings`), plus the receiver's
 * arrival time. Stages are consecutive, so they add up to posted → workflow completed.
 */

/** One light-load delivery as the bench saw it. */
export interface TimedDelivery {
  runId: string;
  /** Epoch ms the event was posted. */
  postedAt: number;
  /** Epoch ms the body arrived at the receiver. */
  arrivedAt: number;
}

/** Each stage's name and the mark (epoch ms) it ends at; a stage begins where the one before ends. */
const ACTIVITY_STAGES = [
  ['accepted (API commit, runs.created_at)', 'accepted'],
  ['workflow started', 'started'],
  ['first workflow task started', 'firstTaskStarted'],
  ['first workflow task completed', 'firstTaskCompleted'],
  ['eligibility + next workflow task', 'deliverScheduled'],
  ['deliverWebhook scheduled → running', 'activityStarted'],
  ['step loaded, body rendered', 'rendered'],
  ['request handed to HTTP client', 'sent'],
  ['body at the receiver', 'arrived'],
  ['response read', 'responded'],
  ['attempt recorded', 'recorded'],
  ['activity completed (history)', 'activityCompleted'],
  ['workflow completed', 'completed'],
] as const;

/** The fast path (issue 18): the first attempt is a local activity inside the first workflow task. */
const FAST_STAGES = [
  ['accepted (API commit, runs.created_at)', 'accepted'],
  ['workflow started', 'started'],
  ['first workflow task started', 'firstTaskStarted'],
  ['eligibility checked (local activity)', 'activityStarted'],
  ['step loaded, body rendered', 'rendered'],
  ['request handed to HTTP client', 'sent'],
  ['body at the receiver', 'arrived'],
  ['response read', 'responded'],
  ['attempt recorded', 'recorded'],
  ['workflow task completed (marker)', 'firstTaskCompleted'],
  ['workflow completed', 'completed'],
] as const;

type Path = 'fast' | 'activity';
type Mark = (typeof ACTIVITY_STAGES)[number][1] | (typeof FAST_STAGES)[number][1];
type Marks = Partial<Record<Mark | 'posted', number>> & { path: Path };

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

const at = (e: HistoryEvent | undefined): number => optionalTsToMs(e?.eventTime) ?? NaN;

/**
 * The marks of one delivery, or undefined when its run did not end in a delivered attempt. `decode`
 * is the client's payload codec (the activity's result is encrypted in history).
 */
async function marksOf(
  d: TimedDelivery,
  createdAt: number,
  events: readonly HistoryEvent[],
  decode: (p: Payload[]) => Promise<Payload[]>,
): Promise<Marks | undefined> {
  const read = async <T>(payload: Payload | undefined): Promise<T | undefined> => {
    const [plain] = payload ? await decode([payload]) : [];
    return plain ? defaultPayloadConverter.fromPayload<T>(plain) : undefined;
  };
  const common = {
    posted: d.postedAt,
    accepted: createdAt,
    started: at(events.find((e) => e.workflowExecutionStartedEventAttributes)),
    firstTaskStarted: at(events.find((e) => e.workflowTaskStartedEventAttributes)),
    firstTaskCompleted: at(events.find((e) => e.workflowTaskCompletedEventAttributes)),
    arrived: d.arrivedAt,
    completed: at(events.find((e) => e.workflowExecutionCompletedEventAttributes)),
  };
  const scheduled = events.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverWebhook',
  );
  if (!scheduled) {
    // The fast path: the delivered first attempt is the result in the local activity's marker.
    const marker = events.find((e) => e.markerRecordedEventAttributes?.details?.result);
    const first = await read<FirstAttemptResult>(
      marker?.markerRecordedEventAttributes?.details?.result?.payloads?.[0],
    );
    if (first?.kind !== 'delivered' || !first.timings) return undefined;
    const t = first.timings;
    return {
      path: 'fast',
      ...common,
      activityStarted: t.startedAt,
      rendered: t.renderedAt,
      sent: t.sentAt,
      responded: t.respondedAt,
      recorded: t.recordedAt,
    };
  }
  const completed = events.find(
    (e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId),
  );
  const result = await read<DeliverWebhookResult>(
    completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0],
  );
  const t = result?.timings;
  if (!t) return undefined;
  return {
    path: 'activity',
    ...common,
    deliverScheduled: at(scheduled),
    activityStarted: t.startedAt,
    rendered: t.renderedAt,
    sent: t.sentAt,
    responded: t.respondedAt,
    recorded: t.recordedAt,
    activityCompleted: at(completed),
  };
}

export interface StageRow {
  stage: string;
  p50: number;
  p95: number;
}

export interface StageBreakdown {
  /** The path most deliveries took, which the rows follow. */
  path: Path;
  /** Deliveries measured on each path. */
  byPath: Record<Path, number>;
  rows: StageRow[];
  /** Deliveries whose marks were all found. */
  measured: number;
  /** posted → body at the receiver, for the same deliveries. */
  toEndpoint: { p50: number; p95: number; p99: number };
  /** posted → workflow completed. */
  toCompletion: { p50: number; p95: number };
}

/** Reads the runs' histories and creation times, after their workflows completed. */
export async function measureStages(
  client: Client,
  db: Db,
  deliveries: readonly TimedDelivery[],
): Promise<StageBreakdown> {
  const created = new Map<string, number>();
  const ids = deliveries.map((d) => d.runId);
  for (let i = 0; i < ids.length; i += 200) {
    const rows = await db
      .selectFrom('runs')
      .select(['id', 'created_at'])
      .where('id', 'in', ids.slice(i, i + 200))
      .execute();
    for (const r of rows) created.set(r.id, Date.parse(r.created_at));
  }
  const all: Marks[] = [];
  const codecs = client.options.loadedDataConverter.payloadCodecs;
  const decode = async (ps: Payload[]) => {
    for (const c of [...codecs].reverse()) ps = await c.decode(ps);
    return ps;
  };
  for (const d of deliveries) {
    const handle = client.workflow.getHandle(d.runId);
    await handle.result().catch(() => undefined);
    const history = await handle.fetchHistory();
    const m = await marksOf(d, created.get(d.runId) ?? NaN, history.events ?? [], decode);
    if (m && Object.values(m).every((v) => typeof v === 'string' || Number.isFinite(v))) all.push(m);
  }
  const byPath: Record<Path, number> = {
    fast: all.filter((m) => m.path === 'fast').length,
    activity: all.filter((m) => m.path === 'activity').length,
  };
  const path: Path = byPath.fast >= byPath.activity ? 'fast' : 'activity';
  const measured = all.filter((m) => m.path === path);
  const stages = path === 'fast' ? FAST_STAGES : ACTIVITY_STAGES;
  const spans = (from: Mark | 'posted', to: Mark) => measured.map((m) => (m[to] ?? NaN) - (m[from] ?? NaN));
  const rows: StageRow[] = stages.map(([stage, mark], i) => {
    const v = spans(i === 0 ? 'posted' : stages[i - 1]![1], mark);
    return { stage, p50: percentile(v, 50), p95: percentile(v, 95) };
  });
  const toEndpoint = spans('posted', 'arrived');
  const toCompletion = spans('posted', 'completed');
  return {
    path,
    byPath,
    rows,
    measured: measured.length,
    toEndpoint: {
      p50: percentile(toEndpoint, 50),
      p95: percentile(toEndpoint, 95),
      p99: percentile(toEndpoint, 99),
    },
    toCompletion: { p50: percentile(toCompletion, 50), p95: percentile(toCompletion, 95) },
  };
}

/** The table `make bench` prints. */
export function printStages(b: StageBreakdown): void {
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a').padStart(7);
  console.log(
    `per-stage latency at light load (${b.measured} deliveries on the ${b.path === 'fast' ? 'fast path' : 'activity path'}, ${b.byPath.fast} fast / ${b.byPath.activity} activity; ms, each stage from the one above)`,
  );
  console.log(`  ${'stage'.padEnd(40)}     p50      p95`);
  console.log(`  ${'event posted'.padEnd(40)}       0        0`);
  for (const r of b.rows) console.log(`  ${r.stage.padEnd(40)} ${f(r.p50)}  ${f(r.p95)}`);
  console.log(
    `  posted → body at the endpoint p50/95/99 ${f(b.toEndpoint.p50)} / ${f(b.toEndpoint.p95).trim()} / ${f(b.toEndpoint.p99).trim()}`,
  );
  console.log(
    `  posted → workflow completed p50/95     ${f(b.toCompletion.p50)} / ${f(b.toCompletion.p95).trim()}`,
  );
}
