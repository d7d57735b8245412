import { dbFactsSource, passesFlowFilters } from './eligibility';
import crypto from 'node:crypto';
import type { Transaction } from 'kysely';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../config';
import type { Database, Db } from '../db';
import { dialectOf } from '../db';
import { EntryStore } from '../db/entry-store';
import type { RunRow } from '../db/entry-store';
import { EventStore } from '../db/event-store';
import { ProfileStore } from '../db/profile-store';
import type { Flow } from '../flows/model';
import { reentryOf } from '../flows/model';
import { buildPlan } from '../flows/plan';
import { FlowStore } from '../flows/store';
import type { Logger } from '../logger';
import type { FlowRunInput, RunContext } from '../shared/run-types';
import type { RunStarter } from '../temporal/run-starter';
import { buildContext } from '../templates/context';
import type { EntryQueue, EntryTrigger, PendingEntry } from './entry-queue';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** The run of `flowId` for `profileId` caused by membership change `changeId`: the same change, the same run. */
export function entryRunId(flowId: string, profileId: string, changeId: string): string {
  return `run_${sha(`${flowId}\0${profileId}\0${changeId}`).slice(0, 32)}`;
}

/**
 * Whether a profile may enter a flow now, under the flow's re-entry rule, and the key its entry is
 * recorded under: `once` for flows that never let a profile back in (the unique key on
 * flow_entries then refuses a second entry even if two changes race), else the change id.
 */
export function admission(
  reentry: ReturnType<typeof reentryOf>,
  lastEnteredAt: string | undefined,
  changeId: string,
  now: string,
): { admit: boolean; entryKey: string } {
  if (reentry.mode === 'never') return { admit: lastEnteredAt === undefined, entryKey: 'once' };
  if (reentry.mode === 'after' && lastEnteredAt !== undefined) {
    const since = Date.parse(now) - Date.parse(lastEnteredAt);
    if (since < (reentry.seconds ?? 0) * 1000) return { admit: false, entryKey: changeId };
  }
  return { admit: true, entryKey: changeId };
}

/** How many workflow starts are in flight at once when a large import's runs start. */
const START_CONCURRENCY = 16;
/** The sweep leaves runs this recent to the request that recorded them. */
const SWEEP_GRACE_MS = 10_000;
const SWEEP_BATCH = 200;

export interface FlowEntriesDeps {
  db: Db;
  starter: RunStarter;
  config: Config;
  logger: Logger;
}

/**
 * Enters profiles into list- and segment-triggered flows durably: the entry (flow_entries) and its
 * run (the `runs` outbox) are written in the caller's transaction, and started after commit with
 * the run id as workflow id. {@link FlowEntries.sweep} starts whatever a crash left recorded but
 * unstarted, metric runs included.
 */
export class FlowEntries implements EntryQueue {
  private readonly flows: FlowStore;
  private readonly versions = new Map<string, Flow['steps']>();
  private readonly live = new WeakMap<Transaction<Database>, Map<string, Flow[]>>();

  constructor(private readonly deps: FlowEntriesDeps) {
    this.flows = new FlowStore(deps.db);
  }

  async enqueue(
    trx: Transaction<Database>,
    trigger: EntryTrigger,
    profileId: string,
    changeId: string,
    now: string,
  ): Promise<PendingEntry[]> {
    const flows = await this.liveFlows(trx, trigger);
    if (flows.length === 0) return [];
    let context: RunContext | undefined;
    const out: PendingEntry[] = [];
    for (const flow of flows) {
      if (!context) {
        const profile = await new ProfileStore(trx).get(profileId);
        if (!profile) return [];
        context = buildContext(profile.data, {}, profileId);
      }
      const entry = await this.enter(trx, flow, profileId, changeId, now, context);
      if (entry) out.push(entry);
    }
    return out;
  }

  /**
   * The live flows of a trigger, read once per transaction: an import enqueues up to a thousand
   * profiles in one, and no other writer can change flows while it holds the write lock.
   */
  private async liveFlows(trx: Transaction<Database>, trigger: EntryTrigger): Promise<Flow[]> {
    const ref = trigger.type === 'list' ? trigger.listId : trigger.segmentId;
    let cache = this.live.get(trx);
    if (!cache) this.live.set(trx, (cache = new Map<string, Flow[]>()));
    const key = `${trigger.type}:${ref}`;
    let flows = cache.get(key);
    if (!flows) cache.set(key, (flows = await new FlowStore(trx).liveByRef(trigger.type, ref)));
    return flows;
  }

  /**
   * Enters one profile into one flow under its re-entry rule, inside `trx`; the entry and its
   * run, or undefined when the rule keeps the profile out (or this change already entered it).
   * `eventId` is set for metric runs, whose context comes from their event.
   */
  async enter(
    trx: Transaction<Database>,
    flow: Flow,
    profileId: string,
    changeId: string,
    now: string,
    context: RunContext | null,
    eventId: string | null = null,
    runId = entryRunId(flow.id, profileId, changeId),
  ): Promise<PendingEntry | undefined> {
    // Flow filters at entry, on the profile as this transaction sees it (the change included).
    const ctx = { now: new Date(now), flowId: flow.id };
    if (!(await passesFlowFilters(dbFactsSource(trx), flow.flowFilters, profileId, ctx))) {
      this.deps.logger.debug({ flowId: flow.id, profileId }, 'profile fails flow filters: no entry');
      return undefined;
    }
    const store = new EntryStore(trx);
    const reentry = reentryOf(flow);
    // Metric flows that always re-enter skip the read: the common case stays one insert.
    const last = reentry.mode === 'always' ? undefined : await store.lastEntry(flow.id, profileId);
    const { admit, entryKey } = admission(reentry, last, changeId, now);
    if (!admit) return undefined;
    const entered = await store.insertEntry({
      flow_id: flow.id,
      profile_id: profileId,
      run_id: runId,
      entered_at: now,
      entry_key: entryKey,
    });
    if (!entered) return undefined;
    await store.insertRun({
      id: runId,
      flow_id: flow.id,
      flow_version: flow.version,
      event_id: eventId,
      profile_id: profileId,
      context: context && JSON.stringify(context),
      started_at: null,
      created_at: now,
    });
    return { runId, flowId: flow.id, profileId };
  }

  async start(entries: readonly PendingEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = await new EntryStore(this.deps.db).runs(entries.map((e) => e.runId));
    await this.startRows(rows.filter((r) => r.started_at === null));
  }

  /** Starts every run recorded but not started (after a crash between commit and start); returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    const before = new Date(now - SWEEP_GRACE_MS).toISOString();
    const { db } = this.deps;
    let total = 0;
    for (;;) {
      // PostgreSQL: several API processes sweep at once; each claims its batch (skipping rows
      // another holds) and marks it in the same transaction. SQLite has one writer at a time, and
      // holding its write lock while Temporal answers would stall every other write: no claim.
      const n =
        dialectOf(db) === 'postgres'
          ? await db.transaction().execute(async (trx) => {
              const store = new EntryStore(trx);
              const rows = await store.unstarted(before, SWEEP_BATCH, { claim: true });
              await this.startRows(rows, store);
              return rows.length;
            })
          : await (async () => {
              const rows = await new EntryStore(db).unstarted(before, SWEEP_BATCH);
              await this.startRows(rows);
              return rows.length;
            })();
      total += n;
      if (n < SWEEP_BATCH) return total;
    }
  }

  /**
   * Starts the runs, then marks them started in one write: one write per run would take the
   * database's write lock a thousand times for an import, waiting on the worker's writes each time.
   * A crash in between only leaves started runs unmarked; the sweep finds them already started.
   */
  private async startRows(rows: readonly RunRow[], marks = new EntryStore(this.deps.db)): Promise<void> {
    if (rows.length === 0) return;
    let next = 0;
    const started: string[] = [];
    const worker = async () => {
      while (next < rows.length) {
        const row = rows[next++]!;
        if (await this.startOne(row)) started.push(row.id);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, rows.length) }, worker));
    } finally {
      await marks.markStarted(started, new Date().toISOString());
    }
  }

  /** True once Temporal holds the run (started now or before); false when nothing can start it. */
  private async startOne(run: RunRow): Promise<boolean> {
    let context: RunContext;
    let metric: string | undefined;
    if (run.context !== null) {
      context = JSON.parse(run.context) as RunContext;
    } else if (run.event_id !== null) {
      const event = await new EventStore(this.deps.db).getEvent(run.event_id);
      if (!event) return false;
      context = buildContext(event.profile, event.properties, event.profileId);
      metric = event.metric;
    } else {
      return false;
    }
    const input: FlowRunInput = {
      runId: run.id,
      flowId: run.flow_id,
      flowVersion: run.flow_version,
      profileId: run.profile_id ?? String(context.person.id),
      eventId: run.event_id,
      context,
      plan: buildPlan(
        await this.steps(run),
        this.deps.config.webhook.retry,
        this.deps.config.webhook.timeoutMs,
      ),
    };
    try {
      await this.deps.starter.flowRun(input, metric);
    } catch (err) {
      // Started before (by the request, or an earlier sweep): the run id is started once, ever.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    return true;
  }

  private async steps(run: RunRow): Promise<Flow['steps']> {
    const key = `${run.flow_id}@${run.flow_version}`;
    let steps = this.versions.get(key);
    if (!steps) {
      steps = (await this.flows.getVersion(run.flow_id, run.flow_version))?.steps ?? [];
      this.versions.set(key, steps);
    }
    return steps;
  }
}
