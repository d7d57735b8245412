import crypto from 'node:crypto';
import type { Db } from '../db';
import { EventStore } from '../db/event-store';
import type { RunRow } from '../db/event-store';
import { LiveFlows } from '../flows/live-flows';
import type { Logger } from '../logger';
import type { PendingEntry } from '../audience/entry-queue';
import { passesTriggerFilters } from '../audience/eligibility';
import type { SegmentService } from '../audience/segments';
import type { FlowEntries } from '../audience/entries';
import { profileIdFor } from '../audience/identity';
import type { DateHook } from '../audience/profiles';
import { mergeProfile } from '../audience/profiles';
import { ProfileStore } from '../db/profile-store';
import type { EventInput } from './schema';

export { profileIdFor };

export interface StartedRun {
  flowId: string;
  runId: string;
}

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** With a unique_id, the run id is derived from flow, metric and unique_id: a repeat maps to the same run. */
function runIdFor(flowId: string, metric: string, uniqueId: string | undefined): string {
  if (uniqueId === undefined) return `run_${crypto.randomUUID().replace(/-/g, '')}`;
  return `run_${sha(`${flowId}\0${metric}\0${uniqueId}`).slice(0, 32)}`;
}

/**
 * Accepts events, stores them, and starts one run per live flow whose trigger matches (under the
 * flow's re-entry rule). The profile change, the event and its runs are one transaction; after
 * commit the runs are handed to the run starter, which starts them without the caller waiting.
 */
export class EventService {
  constructor(
    private readonly db: Db,
    private readonly entries: FlowEntries,
    private readonly logger: Logger,
    /** Keeps segment membership current; optional so callers without segments need not build one. */
    private readonly segments?: Pick<SegmentService, 'reevaluate'>,
    /** Date-property flows: a changed date that fell due behind the last sweep is entered at once. */
    private readonly dates?: Pick<DateHook, 'profileChanged'>,
    /** The live flows of a metric, remembered (see HOOKFLOW_LIVE_FLOW_CACHE_MS); read each time without it. */
    private readonly live: LiveFlows = new LiveFlows(),
  ) {}

  async ingest(input: EventInput): Promise<{ runs: StartedRun[]; duplicate: boolean }> {
    const now = new Date().toISOString();
    const uniqueId = input.unique_id === undefined ? undefined : String(input.unique_id);
    const profileId = profileIdFor(input.profile);
    const { duplicate, runs, profileChanged, data } = await this.db.transaction().execute(async (trx) => {
      const events = new EventStore(trx);
      // The profile keeps what the event does not carry (fields and properties set through the profile API).
      const profiles = new ProfileStore(trx);
      await profiles.hold(profileId);
      const before = await profiles.get(profileId);
      const data = mergeProfile(before?.data, input.profile);
      const profileChanged = JSON.stringify(before?.data) !== JSON.stringify(data);
      await profiles.write(
        {
          id: profileId,
          email: input.profile.email ?? null,
          phoneNumber: input.profile.phone_number ?? null,
          externalId: input.profile.external_id ?? null,
          data,
        },
        now,
      );
      const stored = await events.insertEvent({
        id: `evt_${crypto.randomUUID().replace(/-/g, '')}`,
        metric: input.metric,
        profileId,
        profile: input.profile,
        properties: input.properties,
        uniqueId: uniqueId ?? null,
        time: input.time ? new Date(input.time).toISOString() : now,
        receivedAt: now,
      });
      // The same event again: no new runs, only the ones it started (finishing any start cut short).
      if (stored.duplicate) {
        return {
          duplicate: true,
          profileChanged,
          data,
          runs: toPending(await events.runsForEvent(stored.id)),
        };
      }
      const pending: PendingEntry[] = [];
      for (const flow of await this.live.byMetric(trx, input.metric)) {
        // Trigger filters read this event once, here; flow filters are checked by the entry.
        if (!passesTriggerFilters(flow.triggerFilters, input.properties, new Date(now))) {
          this.logger.debug({ flowId: flow.id, profileId }, 'event fails trigger filters: no run');
          continue;
        }
        const runId = runIdFor(flow.id, input.metric, uniqueId);
        const entry = await this.entries.enter(trx, flow, profileId, stored.id, now, null, stored.id, runId);
        if (entry) pending.push(entry);
      }
      return { duplicate: false, profileChanged, data, runs: pending };
    });
    await this.entries.start(runs);
    // After commit, only the segments this metric or a profile change can affect. A failure here
    // answers 5xx: the event posted again is a duplicate and evaluates again.
    await this.segments?.reevaluate(profileId, { kind: 'event', metric: input.metric, profileChanged });
    if (profileChanged) await this.dates?.profileChanged(profileId, data);
    this.logger.debug({ runs: runs.length, metric: input.metric }, 'event runs queued');
    return { runs: runs.map((r) => ({ flowId: r.flowId, runId: r.runId })), duplicate };
  }
}

function toPending(rows: readonly RunRow[]): PendingEntry[] {
  return rows.map((r) => ({ runId: r.id, flowId: r.flow_id, profileId: r.profile_id ?? '' }));
}
