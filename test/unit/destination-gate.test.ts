import type { ProtectionSettings } from '../../src/config';
import type { Db } from '../../src/db';
import { openDatabase } from '../../src/db';
import { DestinationStore } from '../../src/db/destination-store';
import type { Entry, WaitingActivity } from '../../src/activities/destination-gate';
import { DestinationGate, verdictOf } from '../../src/activities/destination-gate';
import { webhookStepSchema } from '../../src/flows/model';

const ORIGIN = 'https://hooks.example.com:443';
const settings: ProtectionSettings = {
  limits: { concurrency: 2, ratePerSecond: 0 },
  breaker: { windowMs: 300_000, minAttempts: 3, failureRatio: 0.9, cooldownMs: 60_000 },
  waitMs: 400,
};
const activity = (): WaitingActivity & { beats: number } => {
  const a = { beats: 0, signal: new AbortController().signal, heartbeat: () => void a.beats++ };
  return a;
};
const leaseOf = (e: Entry) => {
  if (!('lease' in e)) throw new Error(`no slot: ${e.reason}`);
  return e.lease;
};
const ok = { failed: false, probe: false, reason: 'HTTP 200' };

let db: Db;
let gate: DestinationGate;
const transitions: string[] = [];

beforeEach(async () => {
  db = await openDatabase(':memory:');
  transitions.length = 0;
  gate = new DestinationGate(new DestinationStore(db), settings, 25_000, (to) => transitions.push(to));
});
afterEach(() => db.destroy());

test('an attempt waits in the worker for a slot, and a slot freed here wakes it at once', async () => {
  const a = activity();
  const [one, two] = (await Promise.all([gate.enter(ORIGIN, a), gate.enter(ORIGIN, a)])).map(leaseOf);
  const third = gate.enter(ORIGIN, a);
  await new Promise((r) => setTimeout(r, 50));
  const freedAt = Date.now();
  await gate.leave(ORIGIN, one!, ok);
  leaseOf(await third);
  expect(Date.now() - freedAt).toBeLessThan(150);
  expect(a.beats).toBeGreaterThan(0);
  await gate.leave(ORIGIN, two!, ok);
});

test('no slot within the wait: the run is told to come back (a second later at least), not failed', async () => {
  const a = activity();
  leaseOf(await gate.enter(ORIGIN, a, { concurrency: 1 }));
  const before = Date.now();
  const out = await gate.enter(ORIGIN, a, { concurrency: 1 }); // the step's own limit of 1
  // It looked for a slot most of the wait (it stops once the next look would fall after it).
  expect(Date.now() - before).toBeGreaterThanOrEqual(250);
  expect(out).toMatchObject({ reason: 'concurrency limit' });
  expect((out as { pausedUntilMs: number }).pausedUntilMs).toBeGreaterThanOrEqual(Date.now() + 900);
});

test('an open circuit sends the run away at once, until its cool-down ends', async () => {
  const a = activity();
  for (let i = 0; i < 3; i++) {
    const lease = leaseOf(await gate.enter(ORIGIN, a));
    await gate.leave(ORIGIN, lease, { failed: true, probe: false, reason: 'connection refused' });
  }
  expect(transitions).toEqual(['open']);
  const before = Date.now();
  const out = await gate.enter(ORIGIN, a);
  expect(out).toMatchObject({ reason: 'circuit open' });
  expect(Date.now() - before).toBeLessThan(200);
  expect((out as { pausedUntilMs: number }).pausedUntilMs).toBeGreaterThan(Date.now() + 59_000);
});

test('how the breaker counts what the endpoint did', () => {
  const base = { durationMs: 5, reason: 'r' };
  expect(verdictOf({ ...base, class: 'retryable', errorClass: 'connection_refused' }, false).failed).toBe(
    true,
  );
  expect(verdictOf({ ...base, class: 'retryable', httpStatus: 502 }, false).failed).toBe(true);
  expect(verdictOf({ ...base, class: 'non_retryable', httpStatus: 404 }, false).failed).toBe(false);
  const tooMany = verdictOf({ ...base, class: 'retryable', httpStatus: 429, retryAfterMs: 2000 }, false);
  expect(tooMany).toMatchObject({ failed: false, retryAfterMs: 2000 });
  expect(verdictOf({ ...base, class: 'retryable', httpStatus: 503, retryAfterMs: 1000 }, true)).toMatchObject(
    {
      failed: true,
      probe: true,
      retryAfterMs: 1000,
    },
  );
  expect(verdictOf({ ...base, class: 'delivered', httpStatus: 200 }, false).failed).toBe(false);
});

test('a webhook step may set its own limits, checked at save', () => {
  const step = { id: 's', type: 'webhook', url: 'https://h/x', body: '{}' };
  expect(
    webhookStepSchema.safeParse({ ...step, limits: { concurrency: 2, ratePerSecond: 0.5 } }).success,
  ).toBe(true);
  const bad = webhookStepSchema.safeParse({ ...step, limits: { concurrency: 0, burst: 3 } });
  expect(bad.success).toBe(false);
  const paths = bad.error!.issues.map((i) => [i.path.join('.'), i.message]);
  expect(paths).toEqual(
    expect.arrayContaining([
      ['limits.concurrency', 'must be at least 1'],
      ['limits', expect.stringContaining('burst')],
    ]),
  );
});
