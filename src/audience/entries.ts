import { dbFactsSource, passesFlowFilters } from './eligibility';
import crypto from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Config } from '../config';
import type { Database, Db } from '../db';
import { EntryStore } from '../db/entry-store';
import type { RunRow } from '../db/entry-store';
import { ProfileStore } from '../db/profile-store';
import type { Flow } from '../flows/model';
import { reentryOf } from '../flows/model';
import { FlowStore } from '../flows/store';
import type { Logger } from '../logger';
import type { RunContext } from '../shared/run-types';
import type { RunStarter } from '../temporal/run-starter';
import { buildContext } from '../templates/context';
import type { EntryQueue, EntryTrigger, PendingEntry } from './entry-queue';
import { RunLauncher } from './run-launcher';
import type { RunHandoff } from './run-start-queue';
import { newClaimant } from './run-start-queue';

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

export interface FlowEntriesDeps {
  db: Db;
  starter: RunStarter;
  config: Config;
  logger: Logger;
  /** This process's name on the claims of the runs it records. @default a new one */
  claimant?: string;
  /**
   * The API's run starter: recorded runs are handed to it after commit and the caller does not
   * wait for Temporal. Without one (the worker), {@link FlowEntries.start} starts them itself.
   */
  handoff?: RunHandoff;
}

/**
 * Enters profiles into list- and segment-triggered flows durably: the entry (flow_entries) and its
 * run (the `runs` outbox, claimed by this process) are written in the caller's transaction, and
 * started after commit with the run id as workflow id. A run whose start did not happen (a crash,
 * Temporal down) is taken over by an API process's run starter once the claim lapses.
 */
export class FlowEntries implements EntryQueue {
  private readonly launcher: RunLauncher;
  private readonly claimant: string;
  private readonly live = new WeakMap<Transaction<Database>, Map<string, Flow[]>>();

  constructor(private readonly deps: FlowEntriesDeps) {
    this.launcher = new RunLauncher(deps);
    this.claimant = deps.claimant ?? newClaimant('inline');
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
      // Claimed by this process from the start: no other starter takes it while this one starts it.
      claimed_by: this.claimant,
      claim_expires_at: new Date(Date.now() + this.deps.config.runStarter.leaseMs).toISOString(),
    });
    return { runId, flowId: flow.id, profileId };
  }

  /**
   * Starts recorded runs after their transaction committed: hands them to the API's run starter
   * (returns at once), or, in the worker, starts them here. The worker keeps starting inline: its
   * date sweeps and price-drop fan-outs run in activities, which Temporal retries, and a start
   * here is quicker than the API's poll; runs it could not start are taken over by an API
   * process once their claim lapses.
   */
  async start(entries: readonly PendingEntry[]): Promise<void> {
    if (entries.length === 0) return;
    if (this.deps.handoff) {
      this.deps.handoff.add(entries.map((e) => e.runId));
      return;
    }
    const rows = await new EntryStore(this.deps.db).runs(entries.map((e) => e.runId));
    await this.startRows(rows.filter((r) => r.started_at === null));
  }

  /**
   * Starts the runs, then marks them started in one write: one write per run would take the
   * database's write lock a thousand times for an import, waiting on the worker's writes each time.
   * A crash in between only leaves started runs unmarked; the starter finds them already started.
   */
  private async startRows(rows: readonly RunRow[]): Promise<void> {
    if (rows.length === 0) return;
    let next = 0;
    const started: string[] = [];
    const worker = async () => {
      while (next < rows.length) {
        const row = rows[next++]!;
        if (await this.launcher.launch(row)) started.push(row.id);
      }
    };
    try {
      const concurrency = this.deps.config.runStarter.concurrency;
      await Promise.all(Array.from({ length: Math.min(concurrency, rows.length) }, worker));
    } finally {
      await new EntryStore(this.deps.db).markStarted(started, new Date().toISOString());
    }
  }
}
