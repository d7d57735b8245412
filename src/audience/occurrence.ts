import { DateTime, IANAZone } from 'luxon';
import type { DateTrigger } from '../flows/model';

/**
 * When a date-property flow sends: pure functions of a profile's date value, the trigger and an
 * instant. Zone rules come from `Intl` through luxon; nothing here reads the clock or the database.
 */

/** A calendar date: what a date property means once parsed (its time of day, if any, is not used). */
export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

export type ParsedDate = { ok: true; date: CalendarDate } | { ok: false; reason: string };

/** The trigger fields the computation reads. */
export type OccurrenceRule = Pick<DateTrigger, 'offset' | 'recurrence' | 'time'>;

export interface Occurrence {
  /** The instant the run is due. */
  sendAt: Date;
  /** The occurrence of the date it is for (`YYYY-MM-DD`, before the offset): part of the run's id. */
  occurrence: string;
}

const YMD = /^(\d{4})-(\d{2})-(\d{2})$/;
const YMD_SLASH = /^(\d{4})\/(\d{2})\/(\d{2})$/;
const MDY_SLASH = /^(\d{2})\/(\d{2})\/(\d{4})$/;
/** ISO 8601 with a time: `2020-05-17T10:00`, seconds, fractions and an offset (`Z`, `+02:00`) optional. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const ISO_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/;
const UNIX_SECONDS = /^-?\d{1,11}$/;

function calendar(year: number, month: number, day: number): ParsedDate {
  const dt = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || dt.getUTCMonth() !== month - 1 || dt.getUTCDate() !== day) {
    return { ok: false, reason: 'is not a real calendar date' };
  }
  return { ok: true, date: { year, month, day } };
}

/**
 * Reads a date property. Accepted: `YYYY-MM-DD`, `YYYY/MM/DD`, `MM/DD/YYYY`, ISO 8601 with a time
 * (with or without an offset) and Unix seconds (a number or a string of digits). A value with an
 * offset, or Unix seconds, is an instant: its calendar date is the one in `zone`. A value without
 * an offset is a calendar date (and wall time) in the profile's zone already. Anything else
 * (`DD-MM-YYYY`, `17 May`, …) is refused with the reason, because it cannot be read unambiguously.
 */
export function parseDateValue(value: unknown, zone: string): ParsedDate {
  if (value === undefined || value === null || value === '') return { ok: false, reason: 'is not set' };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return { ok: false, reason: 'is a number but not whole Unix seconds' };
    return fromInstant(DateTime.fromSeconds(value, { zone }));
  }
  if (typeof value !== 'string') return { ok: false, reason: 'is not a date string or Unix seconds' };
  const v = value.trim();
  let m = YMD.exec(v) ?? YMD_SLASH.exec(v);
  if (m) return calendar(Number(m[1]), Number(m[2]), Number(m[3]));
  m = MDY_SLASH.exec(v);
  if (m) return calendar(Number(m[3]), Number(m[1]), Number(m[2]));
  if (ISO_TIME.test(v)) {
    if (ISO_OFFSET.test(v)) return fromInstant(DateTime.fromISO(v, { zone }));
    return calendar(Number(v.slice(0, 4)), Number(v.slice(5, 7)), Number(v.slice(8, 10)));
  }
  if (UNIX_SECONDS.test(v)) return fromInstant(DateTime.fromSeconds(Number(v), { zone }));
  return {
    ok: false,
    reason: 'cannot be read unambiguously: use YYYY-MM-DD, YYYY/MM/DD, MM/DD/YYYY, ISO 8601 or Unix seconds',
  };
}

function fromInstant(dt: DateTime): ParsedDate {
  if (!dt.isValid) return { ok: false, reason: 'is not a valid instant' };
  return { ok: true, date: { year: dt.year, month: dt.month, day: dt.day } };
}

/** Zone names already checked: building an `Intl` formatter per profile was most of a sweep's time. */
const zoneChecks = new Map<string, boolean>();
function validZone(tz: string): boolean {
  let ok = zoneChecks.get(tz);
  if (ok === undefined) {
    ok = IANAZone.isValidZone(tz);
    if (zoneChecks.size < 10_000) zoneChecks.set(tz, ok);
  }
  return ok;
}

/** The profile's zone: its `location.timezone` when it is a known IANA zone, else the account default. */
export function profileZone(profile: Record<string, unknown>, fallback: string): string {
  const location = profile.location;
  const tz =
    location && typeof location === 'object' ? (location as Record<string, unknown>).timezone : undefined;
  return typeof tz === 'string' && validZone(tz) ? tz : fallback;
}

/** The zone a trigger sends in for a profile. */
export function triggerZone(
  trigger: Pick<DateTrigger, 'timezone'>,
  profile: Record<string, unknown>,
  fallback: string,
): string {
  return trigger.timezone === 'profile' ? profileZone(profile, fallback) : trigger.timezone;
}

const MINUTE = 60_000;

/**
 * The instant of wall time `date` `hh:mm` in `zone`. Two answers in a DST overlap: the first (the
 * earlier instant). None in a DST gap: the next valid minute, i.e. the instant the clocks jump
 * (02:30 on a spring-forward night whose clocks go 02:00 → 03:00 sends at 03:00).
 */
export function wallTimeToInstant(date: CalendarDate, hour: number, minute: number, zone: string): Date {
  const z = IANAZone.create(zone);
  const wall = Date.UTC(date.year, date.month - 1, date.day, hour, minute);
  const offsets = new Set([wall - 86_400_000, wall, wall + 86_400_000].map((t) => z.offset(t)));
  const fits = [...offsets].map((o) => wall - o * MINUTE).filter((t) => t + z.offset(t) * MINUTE === wall);
  if (fits.length > 0) return new Date(Math.min(...fits));
  // A gap: find the first minute whose wall time is past the requested one.
  const tries = [...offsets].map((o) => wall - o * MINUTE);
  let lo = Math.min(...tries);
  let hi = Math.max(...tries);
  while (hi - lo > MINUTE) {
    const mid = lo + Math.floor((hi - lo) / MINUTE / 2) * MINUTE;
    if (mid + z.offset(mid) * MINUTE >= wall) hi = mid;
    else lo = mid;
  }
  return new Date(hi);
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
/** `YYYY-MM-DD`. */
export const calendarText = (d: CalendarDate) =>
  `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;

/** The k-th occurrence of `base` (k = 0 is the date itself); Feb 29 is Feb 28 in other years, the 31st the month's last day. */
function occurrenceAt(base: CalendarDate, rule: OccurrenceRule, k: number): CalendarDate {
  switch (rule.recurrence) {
    case 'never':
      return base;
    case 'weekly': {
      const d = DateTime.utc(base.year, base.month, base.day).plus({ days: 7 * k });
      return { year: d.year, month: d.month, day: d.day };
    }
    case 'monthly': {
      const index = base.year * 12 + (base.month - 1) + k;
      const year = Math.floor(index / 12);
      const month = (index % 12) + 1;
      return { year, month, day: Math.min(base.day, daysIn(year, month)) };
    }
    case 'annually': {
      const year = base.year + k;
      const day = base.month === 2 && base.day === 29 && !isLeap(year) ? 28 : base.day;
      return { year, month: base.month, day };
    }
  }
}

/** The send day of an occurrence: the offset applied (months clamp to the month's end: Jan 31 + 1 month = Feb 28/29). */
function sendDay(occ: CalendarDate, rule: OccurrenceRule): CalendarDate {
  const sign = rule.offset.direction === 'before' ? -1 : 1;
  const d = DateTime.utc(occ.year, occ.month, occ.day).plus({ [rule.offset.unit]: sign * rule.offset.value });
  return { year: d.year, month: d.month, day: d.day };
}

/** The index of the occurrence nearest to `at` (a rough guess; the caller scans around it). */
function roughIndex(base: CalendarDate, rule: OccurrenceRule, at: DateTime): number {
  switch (rule.recurrence) {
    case 'never':
      return 0;
    case 'weekly':
      return Math.floor(at.diff(DateTime.utc(base.year, base.month, base.day), 'days').days / 7);
    case 'monthly':
      return (at.year - base.year) * 12 + (at.month - base.month);
    case 'annually':
      return at.year - base.year;
  }
}

/** How many occurrences either side of the rough index cover any offset (at most a year). */
const WINDOW = { never: 0, weekly: 55, monthly: 14, annually: 2 } as const;

/**
 * The first send strictly after `after` for a profile whose date is `base`, sending at the rule's
 * local time in `zone`; undefined when there is none (recurrence "never" and its send has passed).
 * Occurrences start at the date itself: a yearly renewal on 2027-03-01 first sends for 2027.
 */
export function nextOccurrence(
  base: CalendarDate,
  rule: OccurrenceRule,
  zone: string,
  after: Date,
): Occurrence | undefined {
  const [hh, mm] = rule.time.split(':').map(Number) as [number, number];
  const k0 = roughIndex(base, rule, DateTime.fromJSDate(after, { zone: 'utc' }));
  const w = WINDOW[rule.recurrence];
  let best: Occurrence | undefined;
  for (let k = Math.max(0, k0 - w); k <= Math.max(0, k0 + w); k++) {
    const occ = occurrenceAt(base, rule, k);
    const sendAt = wallTimeToInstant(sendDay(occ, rule), hh, mm, zone);
    if (sendAt.getTime() <= after.getTime()) continue;
    if (!best || sendAt < best.sendAt) best = { sendAt, occurrence: calendarText(occ) };
  }
  return best;
}

const DAY = 86_400_000;

/**
 * A cheap, zone-free test that `base` may have a send in (`from`, `to`]: false only when no local
 * day that the window can touch (zones are within 14 hours of UTC; two days' margin) is a send day.
 * Offsets in months clamp to month ends, so they are always let through. The sweep calls it on every
 * profile each minute: the zone math of {@link nextOccurrence} is for the few it lets through.
 */
export function mayBeDue(base: CalendarDate, rule: OccurrenceRule, from: Date, to: Date): boolean {
  if (rule.offset.unit === 'months') return true;
  const shift =
    (rule.offset.direction === 'before' ? -1 : 1) *
    rule.offset.value *
    (rule.offset.unit === 'weeks' ? 7 : 1);
  const baseDay = Date.UTC(base.year, base.month - 1, base.day) / DAY;
  const first = Math.floor(from.getTime() / DAY) - 2;
  const last = Math.floor(to.getTime() / DAY) + 2;
  if (last - first > 400) return true;
  for (let day = first; day <= last; day++) {
    const occDay = day - shift; // the occurrence whose send day this would be
    if (occDay < baseDay) continue;
    const occ = new Date(occDay * DAY);
    const [y, m, d] = [occ.getUTCFullYear(), occ.getUTCMonth() + 1, occ.getUTCDate()];
    switch (rule.recurrence) {
      case 'never':
        if (occDay === baseDay) return true;
        break;
      case 'weekly':
        if ((occDay - baseDay) % 7 === 0) return true;
        break;
      case 'monthly':
        if (d === Math.min(base.day, daysIn(y, m))) return true;
        break;
      case 'annually':
        if (
          m === base.month &&
          (d === base.day || (base.month === 2 && base.day === 29 && d === 28 && !isLeap(y)))
        )
          return true;
        break;
    }
  }
  return false;
}

/** Every send in (`from`, `to`], in order: what a sweep of that window owes this profile. */
export function occurrencesBetween(
  base: CalendarDate,
  rule: OccurrenceRule,
  zone: string,
  from: Date,
  to: Date,
): Occurrence[] {
  const out: Occurrence[] = [];
  if (!mayBeDue(base, rule, from, to)) return out;
  let cursor = from;
  for (;;) {
    const next = nextOccurrence(base, rule, zone, cursor);
    if (!next || next.sendAt.getTime() > to.getTime()) return out;
    out.push(next);
    cursor = next.sendAt;
  }
}
