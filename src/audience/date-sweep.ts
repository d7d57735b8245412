import type { Config } from '../config';
import type { Db } from '../db';
import { DateStore } from '../db/date-store';
import { ProfileStore } from '../db/profile-store';
import type { DatedProfile } from '../db/date-store';
import type { DateTrigger, Flow } from '../flows/model';
import type { LiveFlows } from '../flows/live-flows';
import { FlowStore } from '../flows/store';
import type { Logger } from '../logger';
import { buildContext } from '../templates/context';
import type { FlowEntries } from './entries';
import type { PendingEntry } from './entry-queue';
import type { Occurrence } from './occurrence';
import { calendarText, occurrencesBetween, parseDateValue, triggerZone } from './occurrence';
import type { DateHook, DatePropertyView } from './profiles';

/** Profiles read per page (and entered per transaction at most, times their due occurrences). */
const PAGE = 1000;
/**
 * How far back a sweep catches up after downtime: sends missed for longer than this are dropped
 * rather than sent days late.
 */
export const MAX_CATCH_UP_MS = 7 * 86_400_000;
/** At a profile change, a send this recent that the last sweep already passed is still made. */
export const LATE_CHANGE_MS = 3_600_000;

export interface DateSweepResult {
  flowId: string;
  /** The window looked at: (from, to]. Empty when the flow is not a live date flow. */
  from: string | undefined;
  to: string;
  profiles: number;
  started: number;
}

/** The change id of an occurrence: the same flow, profile and occurrence always make the same run. */
export const occurrenceChangeId = (o: Occurrence) => `date:${o.occurrence}`;

/** The property value of a date flow's profile. */
export function dateValue(trigger: DateTrigger, profile: Record<string, unknown>): unknown {
  const props = profile.properties;
  return props && typeof props === 'object'
    ? (props as Record<string, unknown>)[trigger.property]
    : undefined;
}

/** What a date flow owes one profile in (from, to]: nothing when its value cannot be read. */
export function dueOccurrences(
  trigger: DateTrigger,
  profile: Record<string, unknown>,
  defaultZone: string,
  from: Date,
  to: Date,
): Occurrence[] {
  const zone = triggerZone(trigger, profile, defaultZone);
  const parsed = parseDateValue(dateValue(trigger, profile), zone);
  if (!parsed.ok) return [];
  return occurrencesBetween(parsed.date, trigger, zone, from, to);
}

/**
 * Is the occurrence a run was started for still one of the profile's, by its current date value?
 * Looked for within two days of its send (a changed zone moves the send by hours, not days).
 */
export function occurrenceStands(
  trigger: DateTrigger,
  profile: Record<string, unknown>,
  defaultZone: string,
  stored: { occurrence: string; sendAt: string },
): boolean {
  const at = Date.parse(stored.sendAt);
  const around = dueOccurrences(
    trigger,
    profile,
    defaultZone,
    new Date(at - 2 * 86_400_000),
    new Date(at + 2 * 86_400_000),
  );
  return around.some((o) => o.occurrence === stored.occurrence);
}

export interface DateSweeperDeps {
  db: Db;
  entries: FlowEntries;
  config: Config;
  logger: Logger;
  /** Live date flows, remembered (the API asks at every profile change); read each time without it. */
  live?: LiveFlows;
}

/**
 * Starts the runs of date-property flows: each sweep looks at the window since the flow's last
 * sweep (its watermark, kept in `date_sweeps`) and enters every profile with an occurrence due in
 * it through {@link FlowEntries}, with the run id of (flow, profile, occurrence), so a repeated or
 * overlapping sweep starts nothing twice and a sweep after downtime catches up.
 */
export class DateSweeper implements DateHook {
  constructor(private readonly deps: DateSweeperDeps) {}

  async sweep(flowId: string, now = new Date()): Promise<DateSweepResult> {
    const to = now.toISOString();
    const flow = await new FlowStore(this.deps.db).get(flowId);
    if (!flow || flow.status !== 'live' || flow.trigger.type !== 'date') {
      return { flowId, from: undefined, to, profiles: 0, started: 0 };
    }
    const trigger = flow.trigger;
    const store = new DateStore(this.deps.db);
    const last = Date.parse((await store.sweptTo(flowId)) ?? flow.updatedAt);
    const from = new Date(Math.max(last, now.getTime() - MAX_CATCH_UP_MS));
    let profiles = 0;
    let started = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = await store.profilesWith(trigger.property, cursor, PAGE);
      if (page.length === 0) break;
      cursor = page[page.length - 1]!.id;
      profiles += page.length;
      const due = page.flatMap((p) =>
        dueOccurrences(trigger, p.data, this.deps.config.dates.defaultTimezone, from, now).map(
          (o) => [p, o] as const,
        ),
      );
      if (due.length > 0) started += await this.enter(flow, due, to);
      if (page.length < PAGE) break;
    }
    await store.setSweptTo(flowId, to);
    return { flowId, from: from.toISOString(), to, profiles, started };
  }

  /**
   * At a profile change: a send of a live date flow that fell between an hour ago and the flow's
   * last sweep is entered now (the sweep has passed it and would never look again); later ones are
   * left to the sweep.
   */
  async profileChanged(profileId: string, data: Record<string, unknown>, now = new Date()): Promise<number> {
    const flows = this.deps.live
      ? await this.deps.live.byType(this.deps.db, 'date')
      : await new FlowStore(this.deps.db).liveByType('date');
    const store = new DateStore(this.deps.db);
    let started = 0;
    for (const flow of flows) {
      if (flow.trigger.type !== 'date') continue;
      const swept = await store.sweptTo(flow.id);
      if (swept === undefined) continue;
      const to = new Date(Math.min(Date.parse(swept), now.getTime()));
      const from = new Date(now.getTime() - LATE_CHANGE_MS);
      if (from >= to) continue;
      const due = dueOccurrences(flow.trigger, data, this.deps.config.dates.defaultTimezone, from, to);
      if (due.length > 0) {
        started += await this.enter(
          flow,
          due.map((o) => [{ id: profileId, data }, o] as const),
          now.toISOString(),
        );
      }
    }
    return started;
  }

  /** How each property a live date flow reads is understood for this profile (the profile API shows it). */
  async describe(data: Record<string, unknown>): Promise<Record<string, DatePropertyView>> {
    const out: Record<string, DatePropertyView> = {};
    for (const flow of await new FlowStore(this.deps.db).liveByType('date')) {
      if (flow.trigger.type !== 'date' || out[flow.trigger.property]) continue;
      const timezone = triggerZone(flow.trigger, data, this.deps.config.dates.defaultTimezone);
      const parsed = parseDateValue(dateValue(flow.trigger, data), timezone);
      out[flow.trigger.property] = parsed.ok
        ? { ok: true, date: calendarText(parsed.date), timezone }
        : { ok: false, reason: parsed.reason, timezone };
    }
    return out;
  }

  /** Enters each due (profile, occurrence) in one transaction, then starts the runs; returns how many were new. */
  private async enter(
    flow: Flow,
    due: readonly (readonly [DatedProfile, Occurrence])[],
    now: string,
  ): Promise<number> {
    const pending = await this.deps.db.transaction().execute(async (trx) => {
      const out: PendingEntry[] = [];
      const dates = new DateStore(trx);
      const profiles = new ProfileStore(trx);
      for (const [dated, occ] of due) {
        // The sweep read only the date and zone: the run's context is the whole profile.
        const profile = (await profiles.get(dated.id)) ?? dated;
        const context = buildContext(profile.data, {}, profile.id);
        const entry = await this.deps.entries.enter(
          trx,
          flow,
          profile.id,
          occurrenceChangeId(occ),
          now,
          context,
        );
        if (!entry) continue;
        await dates.recordRun(entry.runId, occ.occurrence, occ.sendAt.toISOString());
        out.push(entry);
      }
      return out;
    });
    await this.deps.entries.start(pending);
    return pending.length;
  }
}
