import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type { TestCluster } from '../test/harness/cluster';
import type { Stack } from '../test/harness/stack';
import type { ChaosReceiver } from './chaos-receiver';
import { pool } from './stats';

/**
 * The fault suite's scenarios (`make chaos`, and two short ones in test/integration/chaos.test.ts):
 * events posted under concurrent load to a live flow with one webhook step while one fault hits
 * the real stack, then a wait until every accepted event's delivery ended, and one row of figures.
 */

/**
 * Retries short enough that a drain after a minute-long outage takes seconds: every attempt
 * waits at most 3 s for the next, and there are enough of them to outlast any fault here.
 */
export const CHAOS_ENV: Record<string, string> = {
  HOOKFLOW_RETRY_MAX_ATTEMPTS: '200',
  HOOKFLOW_RETRY_INITIAL_INTERVAL_MS: '500',
  HOOKFLOW_RETRY_BACKOFF_COEFFICIENT: '2',
  HOOKFLOW_RETRY_MAX_INTERVAL_MS: '3000',
  HOOKFLOW_WEBHOOK_TIMEOUT_MS: '3000',
};

export type ScenarioName =
  | 'worker-kill'
  | 'temporal-kill'
  | 'api-kill'
  | 'receiver-outage'
  | 'db-lock'
  | 'temporal-server-restart'
  | 'postgres-stop';

export const SCENARIOS: readonly ScenarioName[] = [
  'worker-kill',
  'temporal-kill',
  'api-kill',
  'receiver-outage',
  'db-lock',
];

/** On the cluster (`--cluster`: the Temporal server and hookflow on PostgreSQL). */
export const CLUSTER_SCENARIOS: readonly ScenarioName[] = [
  'worker-kill',
  'temporal-server-restart',
  'postgres-stop',
  'api-kill',
];

export interface ChaosOptions {
  events: number;
  /** POSTs in flight at once. */
  concurrency: number;
  /** receiver-outage: 503 for half of it, then connections refused for the other half. */
  outageMs: number;
  /** db-lock: how long another connection holds the SQLite write lock; postgres-stop: how long PostgreSQL is down. */
  lockMs: number;
  /** temporal-kill: how long the dev server stays down before it starts again on its data. */
  temporalDownMs: number;
  /** How long to wait for every accepted event's delivery to end before calling the rest stuck. */
  drainTimeoutMs: number;
}

export const DEFAULT_OPTIONS: ChaosOptions = {
  events: 300,
  concurrency: 8,
  outageMs: 60_000,
  lockMs: 20_000,
  temporalDownMs: 10_000,
  drainTimeoutMs: 5 * 60_000,
};

/** One scenario's figures: the row `make chaos` prints. */
export interface ChaosRow {
  scenario: string;
  events: number;
  /** Events POST /api/events answered 202 (after the client's re-posts with the same unique_id). */
  accepted: number;
  /** POSTs that failed (network error, 5xx, 429) and were posted again. */
  reposts: number;
  /** Events whose request the endpoint answered 2xx at least once. */
  unique: number;
  /** 2xx-answered requests beyond the first of their event. */
  duplicates: number;
  /** Every request of one event carried the same Idempotency-Key. */
  sameKey: boolean;
  failed: number;
  skipped: number;
  /** Accepted events whose delivery had not ended when the drain timed out. */
  stuck: number;
  /** Seconds from the end of the fault and of the posting to the last delivery's end. */
  drainSeconds: number;
  /** GET /api/webhooks/stats counts one delivery per accepted event, delivered = what the endpoint saw. */
  analyticsAgree: boolean;
  /** Deliveries flagged possibleDuplicate by the API (an attempt of unknown outcome before the delivered one). */
  flagged: number;
}

/** Why a row fails the suite; empty when it passes. */
export function rowProblems(row: ChaosRow): string[] {
  const problems: string[] = [];
  if (row.accepted < row.events) problems.push(`${row.events - row.accepted} events never accepted`);
  if (row.unique < row.accepted) problems.push(`${row.accepted - row.unique} accepted events not delivered`);
  if (row.failed + row.skipped > 0) problems.push(`${row.failed} failed, ${row.skipped} skipped`);
  if (row.stuck > 0) problems.push(`${row.stuck} stuck`);
  if (!row.sameKey) problems.push('a duplicate carried another Idempotency-Key');
  if (!row.analyticsAgree) problems.push('analytics counts disagree with the receiver');
  return problems;
}

const HEADER = [
  'scenario',
  'events',
  'accepted',
  'reposts',
  'unique',
  'dup',
  'same key',
  'flagged',
  'failed',
  'skipped',
  'stuck',
  'drain s',
  'analytics',
];

/** The table of rows, as Markdown (it goes into the README as is). */
export function formatTable(rows: ChaosRow[]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [
    line(HEADER),
    line(HEADER.map(() => '---')),
    ...rows.map((r) =>
      line([
        r.scenario,
        r.events,
        r.accepted,
        r.reposts,
        r.unique,
        r.duplicates,
        r.duplicates === 0 ? '–' : r.sameKey ? 'yes' : 'NO',
        r.flagged,
        r.failed,
        r.skipped,
        r.stuck,
        r.drainSeconds.toFixed(1),
        r.analyticsAgree ? 'agree' : 'DISAGREE',
      ]),
    ),
  ].join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The fault itself: resolves once the stack is whole again. */
async function inject(
  name: ScenarioName,
  stack: Stack,
  receiver: ChaosReceiver,
  o: ChaosOptions,
  cluster: TestCluster | undefined,
): Promise<void> {
  const onCluster = () => {
    if (!cluster) throw new Error(`${name} runs on the cluster only (--cluster)`);
    return cluster;
  };
  switch (name) {
    case 'temporal-server-restart':
      // SIGKILL, then the same server again on its PostgreSQL: history and task queues survive.
      await onCluster().restartServer();
      return;
    case 'postgres-stop':
      // hookflow's database and the Temporal server's, both down for the lock time.
      await onCluster().pausePostgres(o.lockMs);
      return;
    case 'worker-kill': {
      // Killed while the endpoint holds requests (the worst moment): Temporal retries them after
      // their start-to-close timeout, and the endpoint may get them twice.
      const until = Date.now() + 10_000;
      while (receiver.inFlight === 0 && Date.now() < until) await sleep(5);
      await stack.killWorker();
      await sleep(1000);
      await stack.startWorker();
      return;
    }
    case 'temporal-kill': {
      const server = stack.server.process;
      await new Promise<void>((resolve) => {
        server.once('exit', () => resolve());
        server.kill('SIGKILL');
      });
      await sleep(o.temporalDownMs);
      await stack.startTemporal();
      return;
    }
    case 'api-kill':
      await stack.killApi();
      await sleep(1000);
      await stack.startApi();
      return;
    case 'receiver-outage':
      await receiver.setMode('unavailable');
      await sleep(o.outageMs / 2);
      await receiver.setMode('refusing');
      await sleep(o.outageMs / 2);
      await receiver.setMode('ok');
      return;
    case 'db-lock': {
      // Another connection takes the write lock (EXCLUSIVE; in WAL mode readers still read) and holds it.
      const lock = new SqliteDatabase(path.join(stack.dir, 'hookflow.sqlite'));
      lock.pragma('busy_timeout = 30000');
      lock.exec('BEGIN EXCLUSIVE');
      await sleep(o.lockMs);
      lock.exec('COMMIT');
      lock.close();
      return;
    }
  }
}

interface StatsBody {
  counts: Record<'pending' | 'retrying' | 'delivered' | 'failed' | 'skipped', number>;
  total: number;
}

/** POSTs one event as a client would: a failed POST (no answer, 5xx, 429, 408) is posted again, same unique_id. */
async function postUntilAccepted(
  stack: Stack,
  body: unknown,
  giveUpAt: number,
  onRepost: () => void,
): Promise<boolean> {
  for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
    try {
      const res = await fetch(`${stack.apiUrl}/api/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.owner!.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      if (res.status === 202) return true;
      // 408 (the server's request timeout), 429 and 5xx: post again, as a client would.
      if (res.status < 500 && res.status !== 429 && res.status !== 408)
        throw new Error(`event refused: HTTP ${res.status}`);
    } catch (err) {
      if ((err as Error).message.startsWith('event refused')) throw err;
      // No answer (the API is down or hung): post again.
    }
    if (Date.now() > giveUpAt) return false;
    onRepost();
    await sleep(wait);
  }
}

/**
 * Runs one scenario on a running stack: a new live flow, `events` events posted `concurrency` at a
 * time, the fault injected once 30% were accepted, then the drain. Returns its row.
 */
export async function runScenario(
  name: ScenarioName,
  stack: Stack,
  receiver: ChaosReceiver,
  options: Partial<ChaosOptions> = {},
  log: (line: string) => void = () => undefined,
  cluster?: TestCluster,
): Promise<ChaosRow> {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const tag = `${name}-${Date.now()}`;
  const metric = `Chaos ${tag}`;
  const hookPath = `/chaos-${tag}`;
  const flow = await stack.request<{ id: string }>('POST', '/api/flows', {
    name: `chaos ${tag}`,
    trigger: { type: 'metric', metric },
    status: 'live',
    steps: [
      {
        id: 'hook',
        type: 'webhook',
        url: receiver.url(hookPath),
        body: '{"seq": {{ event.seq|default:-1 }}, "email": "{{ person.email }}"}',
      },
    ],
  });
  if (flow.status !== 201) throw new Error(`could not create the flow: ${JSON.stringify(flow.body)}`);
  const flowId = flow.body.id;

  let accepted = 0;
  let reposts = 0;
  let fault: Promise<void> | undefined;
  const trigger = Math.max(1, Math.floor(o.events * 0.3));
  const giveUpAt = Date.now() + 3 * 60_000 + o.outageMs + o.lockMs + o.temporalDownMs;
  log(`${name}: posting ${o.events} events, the fault after ${trigger}`);
  await pool(o.events, o.concurrency, async (i) => {
    const body = {
      metric,
      profile: { email: `chaos${i}@example.com` },
      // From 1: the template's default (-1, for the sample data) must never look like an event.
      properties: { seq: i + 1 },
      unique_id: `${tag}-${i}`,
    };
    if (await postUntilAccepted(stack, body, giveUpAt, () => reposts++)) accepted++;
    if (accepted >= trigger && !fault) {
      log(`${name}: injecting the fault`);
      fault = inject(name, stack, receiver, o, cluster);
    }
  });
  await fault;
  log(`${name}: ${accepted} accepted, the fault is over; draining`);

  const drainStart = Date.now();
  const stats = async (): Promise<StatsBody | undefined> => {
    try {
      const res = await stack.request<StatsBody>('GET', `/api/webhooks/stats?flowId=${flowId}`);
      return res.status === 200 ? res.body : undefined;
    } catch {
      return undefined;
    }
  };
  const uniqueSeqs = () => new Set(receiver.delivered(hookPath).map((r) => r.seq)).size;
  let last: StatsBody | undefined;
  let drainedAt = drainStart;
  for (;;) {
    last = (await stats()) ?? last;
    const ended = last ? last.counts.delivered + last.counts.failed + last.counts.skipped : 0;
    if (
      ended >= accepted &&
      uniqueSeqs() >= accepted - (last ? last.counts.failed + last.counts.skipped : 0)
    ) {
      drainedAt = Date.now();
      break;
    }
    if ((Date.now() - drainStart) % 15_000 < 1000)
      log(`${name}: ${uniqueSeqs()} delivered at the endpoint, ${ended} ended of ${accepted}`);
    if (Date.now() - drainStart > o.drainTimeoutMs) {
      drainedAt = Date.now();
      break;
    }
    await sleep(1000);
  }
  // A last look, after the counts settled: late duplicates land in these figures too.
  await sleep(1000);
  last = (await stats()) ?? last;

  const delivered = receiver.delivered(hookPath);
  const bySeq = new Map<number, Set<string | undefined>>();
  for (const r of receiver.requests.filter((x) => x.path === hookPath && x.seq >= 0)) {
    const keys = bySeq.get(r.seq) ?? new Set();
    keys.add(r.idempotencyKey);
    bySeq.set(r.seq, keys);
  }
  const unique = new Set(delivered.map((r) => r.seq)).size;
  const counts = last?.counts ?? { pending: 0, retrying: 0, delivered: 0, failed: 0, skipped: 0 };
  const ended = counts.delivered + counts.failed + counts.skipped;
  return {
    scenario: name,
    events: o.events,
    accepted,
    reposts,
    unique,
    duplicates: delivered.length - unique,
    sameKey: [...bySeq.values()].every((keys) => keys.size === 1),
    failed: counts.failed,
    skipped: counts.skipped,
    stuck: Math.max(0, accepted - ended),
    drainSeconds: (drainedAt - drainStart) / 1000,
    analyticsAgree: last !== undefined && last.total === accepted && counts.delivered === unique,
    flagged: await countFlagged(stack, flowId),
  };
}

/** Deliveries of the flow the API flags possibleDuplicate (read one by one: the list does not carry it). */
async function countFlagged(stack: Stack, flowId: string): Promise<number> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const q: string = `/api/webhooks/deliveries?flowId=${flowId}&status=delivered&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await stack.request<{
      deliveries: { id: string; attempts: number }[];
      nextCursor: string | null;
    }>('GET', q);
    if (page.status !== 200) throw new Error(`deliveries list: HTTP ${page.status}`);
    // Only a delivery that took more than one attempt can have an unknown one before it.
    ids.push(...page.body.deliveries.filter((d) => d.attempts > 1).map((d) => d.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  let flagged = 0;
  await pool(ids.length, 4, async (i) => {
    const d = await stack.request<{ delivery: { possibleDuplicate: boolean } }>(
      'GET',
      `/api/webhooks/deliveries/${ids[i]!}`,
    );
    if (d.body.delivery.possibleDuplicate) flagged++;
  });
  return flagged;
}
