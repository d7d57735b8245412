import type { OccurrenceRule } from '../../src/audience/occurrence';
import {
  mayBeDue,
  nextOccurrence,
  occurrencesBetween,
  parseDateValue,
  profileZone,
  wallTimeToInstant,
} from '../../src/audience/occurrence';
import { triggerSchema } from '../../src/flows/model';

const rule = (r: Partial<OccurrenceRule> = {}): OccurrenceRule => ({
  offset: { value: 0, unit: 'days', direction: 'after' },
  recurrence: 'annually',
  time: '09:00',
  ...r,
});
const d = (year: number, month: number, day: number) => ({ year, month, day });
const at = (iso: string) => new Date(iso);
const next = (...args: Parameters<typeof nextOccurrence>) => nextOccurrence(...args)?.sendAt.toISOString();

describe('parseDateValue', () => {
  test.each([
    ['1990-05-17', d(1990, 5, 17)],
    ['1990/05/17', d(1990, 5, 17)],
    ['05/17/1990', d(1990, 5, 17)],
    ['1990-05-17T23:30', d(1990, 5, 17)],
    ['1990-05-17T23:30:00Z', d(1990, 5, 18)], // an instant: its date in Europe/Paris
    ['1990-05-17T23:30:00-02:00', d(1990, 5, 18)],
    [643_161_600, d(1990, 5, 20)], // Unix seconds 1990-05-20T00:00Z
    ['643161600', d(1990, 5, 20)],
  ])('%p is read as a calendar date in the profile zone', (value, date) => {
    expect(parseDateValue(value, 'Europe/Paris')).toEqual({ ok: true, date });
  });

  test.each(['17-05-1990', '17 May 1990', 'tomorrow', '1990-02-30', '13/01/1990', 1.5, true])(
    '%p never qualifies, with a reason',
    (value) => {
      const r = parseDateValue(value, 'UTC');
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/\w/);
    },
  );

  test('a missing value is "not set"', () => {
    expect(parseDateValue(undefined, 'UTC')).toEqual({ ok: false, reason: 'is not set' });
  });
});

describe('profileZone', () => {
  test('location.timezone when it is a known zone, else the default', () => {
    expect(profileZone({ location: { timezone: 'Asia/Tokyo' } }, 'UTC')).toBe('Asia/Tokyo');
    expect(profileZone({ location: { timezone: 'Mars/Olympus' } }, 'Europe/Paris')).toBe('Europe/Paris');
    expect(profileZone({}, 'UTC')).toBe('UTC');
  });
});

describe('wallTimeToInstant across DST', () => {
  test('a gap sends at the next valid minute (the instant the clocks jump)', () => {
    // New York, 2026-03-08: 02:00 EST → 03:00 EDT; 02:30 does not exist.
    expect(wallTimeToInstant(d(2026, 3, 8), 2, 30, 'America/New_York').toISOString()).toBe(
      '2026-03-08T07:00:00.000Z',
    );
  });
  test('an overlap sends at the first occurrence', () => {
    // New York, 2026-11-01: 01:30 happens in EDT (05:30Z) and again in EST (06:30Z).
    expect(wallTimeToInstant(d(2026, 11, 1), 1, 30, 'America/New_York').toISOString()).toBe(
      '2026-11-01T05:30:00.000Z',
    );
  });
});

describe('nextOccurrence', () => {
  test('two zones across a DST change: the same local time, the UTC instant moves with each zone', () => {
    const weekly = rule({ recurrence: 'weekly' });
    // Sundays 2026-03-22 and 2026-03-29; Europe moves to summer time on the 29th, New York on the 8th.
    const base = d(2026, 3, 22);
    expect(next(base, weekly, 'Europe/Paris', at('2026-03-22T00:00Z'))).toBe('2026-03-22T08:00:00.000Z');
    expect(next(base, weekly, 'Europe/Paris', at('2026-03-22T09:00Z'))).toBe('2026-03-29T07:00:00.000Z');
    expect(next(base, weekly, 'America/New_York', at('2026-03-22T00:00Z'))).toBe('2026-03-22T13:00:00.000Z');
    expect(next(base, weekly, 'America/New_York', at('2026-03-22T14:00Z'))).toBe('2026-03-29T13:00:00.000Z');
  });

  test('Feb 29 sends on Feb 28 in non-leap years and on Feb 29 in leap years', () => {
    const base = d(2000, 2, 29);
    expect(nextOccurrence(base, rule(), 'UTC', at('2026-01-01T00:00Z'))).toEqual({
      sendAt: at('2026-02-28T09:00Z'),
      occurrence: '2026-02-28',
    });
    expect(next(base, rule(), 'UTC', at('2027-03-01T00:00Z'))).toBe('2028-02-29T09:00:00.000Z');
  });

  test('Jan 31 + 1 month is the last day of February', () => {
    const plusMonth = rule({ offset: { value: 1, unit: 'months', direction: 'after' } });
    expect(next(d(1990, 1, 31), plusMonth, 'UTC', at('2026-01-01T00:00Z'))).toBe('2026-02-28T09:00:00.000Z');
    expect(next(d(1990, 1, 31), plusMonth, 'UTC', at('2028-01-01T00:00Z'))).toBe('2028-02-29T09:00:00.000Z');
  });

  test('3 days before Jan 2 sends on Dec 30 of the year before', () => {
    const before = rule({ offset: { value: 3, unit: 'days', direction: 'before' } });
    expect(nextOccurrence(d(1985, 1, 2), before, 'Asia/Tokyo', at('2026-12-01T00:00Z'))).toEqual({
      sendAt: at('2026-12-30T00:00Z'), // 09:00 in Tokyo
      occurrence: '2027-01-02',
    });
  });

  test('weekly recurrence: every seven days from the date', () => {
    const sends = occurrencesBetween(
      d(2026, 1, 5),
      rule({ recurrence: 'weekly', time: '18:30' }),
      'UTC',
      at('2026-01-01T00:00Z'),
      at('2026-01-31T00:00Z'),
    );
    expect(sends.map((s) => s.sendAt.toISOString())).toEqual([
      '2026-01-05T18:30:00.000Z',
      '2026-01-12T18:30:00.000Z',
      '2026-01-19T18:30:00.000Z',
      '2026-01-26T18:30:00.000Z',
    ]);
  });

  test("monthly recurrence on the 31st sends on each month's last day", () => {
    const sends = occurrencesBetween(
      d(2026, 1, 31),
      rule({ recurrence: 'monthly' }),
      'UTC',
      at('2026-01-01T00:00Z'),
      at('2026-04-30T23:59Z'),
    );
    expect(sends.map((s) => s.occurrence)).toEqual(['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30']);
  });

  test('never: one send, then none', () => {
    const once = rule({ recurrence: 'never', offset: { value: 1, unit: 'weeks', direction: 'after' } });
    expect(next(d(2026, 6, 1), once, 'UTC', at('2026-01-01T00:00Z'))).toBe('2026-06-08T09:00:00.000Z');
    expect(nextOccurrence(d(2026, 6, 1), once, 'UTC', at('2026-06-08T09:00Z'))).toBeUndefined();
  });

  test('occurrences start at the date itself', () => {
    expect(next(d(2030, 3, 1), rule(), 'UTC', at('2026-01-01T00:00Z'))).toBe('2030-03-01T09:00:00.000Z');
  });
});

describe("mayBeDue, the sweep's cheap pre-check", () => {
  test('never rules out a profile that is due (zones, offsets, recurrences, windows)', () => {
    const zones = ['Pacific/Kiritimati', 'Pacific/Pago_Pago', 'America/New_York', 'Asia/Kolkata'];
    const rules: OccurrenceRule[] = [
      rule(),
      rule({ recurrence: 'weekly', time: '23:59' }),
      rule({ recurrence: 'monthly', offset: { value: 3, unit: 'days', direction: 'before' } }),
      rule({ recurrence: 'never', offset: { value: 2, unit: 'weeks', direction: 'after' }, time: '00:00' }),
    ];
    const bases = [d(2000, 2, 29), d(2025, 12, 31), d(2026, 1, 1), d(2026, 3, 8)];
    let due = 0;
    for (const zone of zones)
      for (const r of rules)
        for (const base of bases)
          for (let h = 0; h < 24 * 60; h += 7) {
            const from = new Date(Date.UTC(2026, 0, 1) + h * 3_600_000);
            const to = new Date(from.getTime() + 3_600_000);
            const next = nextOccurrence(base, r, zone, from);
            if (next && next.sendAt <= to) {
              due++;
              expect(mayBeDue(base, r, from, to)).toBe(true);
            }
          }
    expect(due).toBeGreaterThan(10);
  });
});

describe('the date trigger at save', () => {
  const ok = { type: 'date', property: 'birthday' };
  test('defaults: on the date, annually, 09:00, the profile zone', () => {
    expect(triggerSchema.parse(ok)).toEqual({
      ...ok,
      offset: { value: 0, unit: 'days', direction: 'after' },
      recurrence: 'annually',
      time: '09:00',
      timezone: 'profile',
    });
  });
  test.each([
    [{ timezone: 'Mars/Olympus' }, 'timezone'],
    [{ offset: { value: 13, unit: 'months', direction: 'before' } }, 'offset.value'],
    [{ offset: { value: -1, unit: 'days', direction: 'before' } }, 'offset.value'],
    [{ time: '9:00' }, 'time'],
    [{ time: '24:00' }, 'time'],
    [{ recurrence: 'daily' }, 'recurrence'],
  ])('%p is refused naming %s', (extra, path) => {
    const r = triggerSchema.safeParse({ ...ok, ...extra });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});
