import type { Db } from '../../src/db';
import { AuditStore } from '../../src/db/audit-store';
import type { DestinationLease } from '../../src/db/destination-store';
import { DestinationStore, destinationIdOf } from '../../src/db/destination-store';
import type { BreakerSettings, DestinationLimits } from '../../src/shared/destination-guard';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';

const ORIGIN = 'https://hooks.example.com:443';
const limits: DestinationLimits = { concurrency: 4, ratePerSecond: 0 };
const breaker: BreakerSettings = {
  windowMs: 300_000,
  minAttempts: 20,
  failureRatio: 0.9,
  cooldownMs: 60_000,
};
const LEASE = 25_000;

describe.each(TEST_DATABASES)('destination store on %s', (kind) => {
  let db: Db;
  let now: number;
  let store: DestinationStore;

  beforeEach(async () => {
    db = await openTestDatabase(kind, 'destinations');
    now = 1_800_000_000_000;
    store = new DestinationStore(db, () => now);
  });
  afterEach(() => db.destroy());

  const leaseOf = (got: Awaited<ReturnType<DestinationStore['acquire']>>): DestinationLease => {
    if (!('lease' in got)) throw new Error(`no slot: ${got.reason}`);
    return got.lease;
  };

  test('twelve attempts at once get exactly the four slots of the limit; a release or a lapse frees one', async () => {
    const all = await Promise.all(Array.from({ length: 12 }, () => store.acquire(ORIGIN, limits, LEASE)));
    const granted = all.filter((a) => 'lease' in a).map(leaseOf);
    expect(granted).toHaveLength(4);
    expect(all.filter((a) => 'reason' in a && a.reason === 'concurrency limit')).toHaveLength(8);

    await store.release(granted[0]!, { failed: false, probe: false, reason: 'HTTP 200' }, breaker);
    leaseOf(await store.acquire(ORIGIN, limits, LEASE));
    expect(await store.acquire(ORIGIN, limits, LEASE)).toMatchObject({ reason: 'concurrency limit' });

    // A worker killed mid-request: its lease lapses and no longer counts.
    now += LEASE;
    const after = await Promise.all(Array.from({ length: 5 }, () => store.acquire(ORIGIN, limits, LEASE)));
    expect(after.filter((a) => 'lease' in a)).toHaveLength(4);
  });

  test('the rate limit spaces requests out for every caller', async () => {
    const slow = { concurrency: 100, ratePerSecond: 2 };
    leaseOf(await store.acquire(ORIGIN, slow, LEASE));
    leaseOf(await store.acquire(ORIGIN, slow, LEASE));
    expect(await store.acquire(ORIGIN, slow, LEASE)).toEqual({
      waitUntilMs: now + 500,
      reason: 'rate limit',
    });
    now += 500;
    leaseOf(await store.acquire(ORIGIN, slow, LEASE));
  });

  test("a 429's Retry-After holds the destination for everyone until it passes", async () => {
    const lease = leaseOf(await store.acquire(ORIGIN, limits, LEASE));
    const to = await store.release(
      lease,
      { failed: false, probe: false, reason: 'HTTP 429', retryAfterMs: 2000 },
      breaker,
    );
    expect(to).toBeUndefined();
    expect(await store.acquire(ORIGIN, limits, LEASE)).toEqual({
      waitUntilMs: now + 2000,
      reason: 'held by Retry-After',
    });
    expect((await store.paused()).map((p) => [p.origin, p.circuit])).toEqual([[ORIGIN, 'held']]);
    now += 2000;
    leaseOf(await store.acquire(ORIGIN, limits, LEASE));
    expect(await store.paused()).toEqual([]);
  });

  test('sustained failure opens the circuit; after the cool-down one probe goes, and its success closes it', async () => {
    const transitions: (string | undefined)[] = [];
    for (let i = 0; i < 20; i++) {
      const lease = leaseOf(await store.acquire(ORIGIN, limits, LEASE));
      transitions.push(
        await store.release(lease, { failed: true, probe: false, reason: 'connection refused' }, breaker),
      );
      now += 1000;
    }
    expect(transitions.slice(0, 19).every((t) => t === undefined)).toBe(true);
    expect(transitions[19]).toBe('open');
    const openedAt = now - 1000;
    expect(await store.acquire(ORIGIN, limits, LEASE)).toEqual({
      waitUntilMs: openedAt + 60_000,
      reason: 'circuit open',
    });
    expect(await store.countOpen()).toBe(1);
    const [paused] = await store.paused();
    expect(paused).toMatchObject({
      id: destinationIdOf(ORIGIN),
      circuit: 'open',
      since: new Date(openedAt).toISOString(),
      reason: '20 of 20 attempts failed (100%) within 5 min; last: connection refused',
    });

    now = openedAt + 60_000;
    const both = await Promise.all([
      store.acquire(ORIGIN, limits, LEASE),
      store.acquire(ORIGIN, limits, LEASE),
    ]);
    const probes = both.filter((a) => 'lease' in a).map(leaseOf);
    expect(probes).toHaveLength(1); // one probe, claimed atomically
    expect(probes[0]!.probe).toBe(true);
    expect(both.find((a) => 'reason' in a)).toMatchObject({ reason: 'probe in flight' });

    // A failed probe re-opens for another cool-down.
    expect(await store.release(probes[0]!, { failed: true, probe: true, reason: 'HTTP 503' }, breaker)).toBe(
      'open',
    );
    expect(await store.acquire(ORIGIN, limits, LEASE)).toMatchObject({
      reason: 'circuit open',
      waitUntilMs: now + 60_000,
    });
    now += 60_000;
    const probe = leaseOf(await store.acquire(ORIGIN, limits, LEASE));
    expect(await store.release(probe, { failed: false, probe: true, reason: 'HTTP 200' }, breaker)).toBe(
      'closed',
    );
    expect(await store.countOpen()).toBe(0);
    // The old failures were forgotten: one more failure does not re-open it.
    const next = leaseOf(await store.acquire(ORIGIN, limits, LEASE));
    expect(
      await store.release(next, { failed: true, probe: false, reason: 'HTTP 500' }, breaker),
    ).toBeUndefined();
  });

  test('4xx answers and failures older than the window do not open the circuit', async () => {
    for (let i = 0; i < 30; i++) {
      const lease = leaseOf(await store.acquire(ORIGIN, limits, LEASE));
      await store.release(lease, { failed: i % 5 !== 0, probe: false, reason: 'x' }, breaker);
    }
    expect(await store.countOpen()).toBe(0); // 24 of 30 failed: 80%
    now += 10 * 60_000;
    await store.prune(breaker.windowMs);
    for (let i = 0; i < 19; i++) {
      const lease = leaseOf(await store.acquire(ORIGIN, limits, LEASE));
      await store.release(lease, { failed: true, probe: false, reason: 'x' }, breaker);
    }
    expect(await store.countOpen()).toBe(0); // 19 in the window: below the minimum
  });

  test('Resume now closes the circuit and ends the hold, with an audit entry', async () => {
    const wide = { concurrency: 100, ratePerSecond: 0 };
    const leases = [];
    for (let i = 0; i < 21; i++) leases.push(leaseOf(await store.acquire(ORIGIN, wide, LEASE)));
    for (const lease of leases.slice(0, 20)) {
      await store.release(lease, { failed: true, probe: false, reason: 'HTTP 502' }, breaker);
    }
    await store.release(
      leases[20]!,
      { failed: false, probe: false, reason: 'HTTP 429', retryAfterMs: 600_000 },
      breaker,
    );
    expect(await store.countOpen()).toBe(1);
    const id = destinationIdOf(ORIGIN);
    expect(await store.resume('dst_missing', { userId: 'usr_1', apiKeyId: null })).toBe(false);
    expect(await store.resume(id, { userId: 'usr_1', apiKeyId: null })).toBe(true);
    expect(await store.paused()).toEqual([]);
    leaseOf(await store.acquire(ORIGIN, limits, LEASE));
    const { entries } = await new AuditStore(db).list({ limit: 5 });
    expect(entries[0]).toMatchObject({
      action: 'destination.resume',
      fields: [ORIGIN],
      user: { id: 'usr_1' },
    });
  });
});
