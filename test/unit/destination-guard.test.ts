import type {
  BreakerSettings,
  DestinationLimits,
  DestinationState,
} from '../../src/shared/destination-guard';
import {
  admit,
  afterDestinationAttempt,
  destinationOrigin,
  freshDestination,
  refill,
  shouldOpen,
  tokenWaitMs,
} from '../../src/shared/destination-guard';

const limits: DestinationLimits = { concurrency: 4, ratePerSecond: 10 };
const breaker: BreakerSettings = {
  windowMs: 300_000,
  minAttempts: 20,
  failureRatio: 0.9,
  cooldownMs: 60_000,
};
const T = 1_800_000_000_000;
const LEASE = 25_000;

describe('token bucket', () => {
  test('refills at the rate, never beyond one second of requests', () => {
    expect(refill(0, T, T + 250, limits)).toBeCloseTo(2.5);
    expect(refill(3, T, T + 10_000, limits)).toBe(10);
    expect(refill(5, T, T - 1000, limits)).toBe(5); // a clock behind the last read adds nothing
  });

  test('says how long until the next token', () => {
    expect(tokenWaitMs(1, limits)).toBe(0);
    expect(tokenWaitMs(0.5, limits)).toBe(50);
    expect(tokenWaitMs(0, { concurrency: 1, ratePerSecond: 2 })).toBe(500);
  });

  test('admits a full bucket at once, then one request per tenth of a second', () => {
    let state = freshDestination(limits, T);
    let admitted = 0;
    for (let i = 0; i < 15; i++) {
      const a = admit(state, 0, limits, LEASE, T);
      if (!a.go) {
        expect(a).toEqual({ go: false, untilMs: T + 100, reason: 'rate limit' });
        continue;
      }
      admitted++;
      state = a.next;
    }
    expect(admitted).toBe(10);
    const later = admit(state, 0, limits, LEASE, T + 100);
    expect(later.go).toBe(true);
  });

  test('a rate of 0 is unlimited', () => {
    const off = { concurrency: 100, ratePerSecond: 0 };
    let state = freshDestination(off, T);
    for (let i = 0; i < 1000; i++) {
      const a = admit(state, 0, off, LEASE, T);
      if (!a.go) throw new Error('refused');
      state = a.next;
    }
  });
});

describe('admission', () => {
  test('waits for a slot when the destination has as many requests in flight as its limit', () => {
    const state = freshDestination(limits, T);
    expect(admit(state, 3, limits, LEASE, T).go).toBe(true);
    const full = admit(state, 4, limits, LEASE, T);
    expect(full).toMatchObject({ go: false, reason: 'concurrency limit' });
  });

  test("holds every attempt until the endpoint's Retry-After has passed", () => {
    const state: DestinationState = { ...freshDestination(limits, T), holdUntil: T + 2000 };
    expect(admit(state, 0, limits, LEASE, T + 1999)).toEqual({
      go: false,
      untilMs: T + 2000,
      reason: 'held by Retry-After',
    });
    expect(admit(state, 0, limits, LEASE, T + 2000).go).toBe(true);
  });

  test('an open circuit waits out its cool-down, then lets one probe through', () => {
    const open: DestinationState = {
      ...freshDestination(limits, T),
      circuit: 'open',
      openedAt: T,
      reason: 'x',
      reopenAt: T + 60_000,
    };
    expect(admit(open, 0, limits, LEASE, T + 59_999)).toEqual({
      go: false,
      untilMs: T + 60_000,
      reason: 'circuit open',
    });
    const probe = admit(open, 0, limits, LEASE, T + 60_000);
    if (!probe.go) throw new Error('the probe was refused');
    expect(probe.probe).toBe(true);
    expect(probe.next).toMatchObject({ circuit: 'half_open', probeUntil: T + 60_000 + LEASE });
    // While the probe is out, nobody else goes.
    expect(admit(probe.next, 1, limits, LEASE, T + 61_000)).toMatchObject({
      go: false,
      reason: 'probe in flight',
      untilMs: T + 62_000, // soon, not at the end of the probe's lease: it usually answers well before
    });
    // A probe whose worker died (its lease lapsed) is taken over by the next attempt.
    const again = admit(probe.next, 0, limits, LEASE, T + 60_000 + LEASE);
    expect(again).toMatchObject({ go: true, probe: true });
  });
});

describe('circuit breaker', () => {
  test('opens on at least 20 attempts of which at least 90% failed', () => {
    expect(shouldOpen({ attempts: 19, failures: 19 }, breaker)).toBe(false);
    expect(shouldOpen({ attempts: 20, failures: 18 }, breaker)).toBe(true);
    expect(shouldOpen({ attempts: 20, failures: 17 }, breaker)).toBe(false);
    expect(shouldOpen({ attempts: 100, failures: 90 }, breaker)).toBe(true);
  });

  test('a failure that tips the window opens the circuit, with why and since when', () => {
    const state = freshDestination(limits, T);
    const v = { failed: true, probe: false, reason: 'connection refused' };
    expect(afterDestinationAttempt(state, v, { attempts: 20, failures: 17 }, breaker, T).transition).toBe(
      undefined,
    );
    const opened = afterDestinationAttempt(state, v, { attempts: 20, failures: 19 }, breaker, T);
    expect(opened.transition).toBe('open');
    expect(opened.next).toMatchObject({ circuit: 'open', openedAt: T, reopenAt: T + 60_000 });
    expect(opened.next.reason).toBe('19 of 20 attempts failed (95%) within 5 min; last: connection refused');
  });

  test('the probe closes the circuit when it succeeds and re-opens it when it fails', () => {
    const half: DestinationState = {
      ...freshDestination(limits, T),
      circuit: 'half_open',
      openedAt: T,
      reason: 'x',
      probeUntil: T + 90_000,
    };
    const ok = afterDestinationAttempt(
      half,
      { failed: false, probe: true, reason: 'HTTP 200' },
      undefined,
      breaker,
      T + 61_000,
    );
    expect(ok.transition).toBe('closed');
    expect(ok.next).toMatchObject({ circuit: 'closed', openedAt: null, reason: null, reopenAt: null });
    const bad = afterDestinationAttempt(
      half,
      { failed: true, probe: true, reason: 'HTTP 503' },
      undefined,
      breaker,
      T + 61_000,
    );
    expect(bad.transition).toBe('open');
    // Still paused since the first opening, now until another cool-down has passed.
    expect(bad.next).toMatchObject({ circuit: 'open', openedAt: T, reopenAt: T + 121_000 });
  });

  test('a probe cancelled before any answer leaves the circuit open for the next attempt to probe at once', () => {
    const half: DestinationState = {
      ...freshDestination(limits, T),
      circuit: 'half_open',
      openedAt: T,
      reason: 'x',
      probeUntil: T + 90_000,
    };
    const v = { failed: false, probe: true, reason: 'cancelled', cancelled: true };
    const after = afterDestinationAttempt(half, v, undefined, breaker, T + 61_000);
    expect(after.next).toMatchObject({
      circuit: 'open',
      openedAt: T,
      reopenAt: T + 61_000,
      probeUntil: null,
    });
    expect(admit(after.next, 0, limits, LEASE, T + 61_000)).toMatchObject({ go: true, probe: true });
  });

  test("a 429's Retry-After holds the destination, and a shorter one never shortens a hold", () => {
    const state = freshDestination(limits, T);
    const held = afterDestinationAttempt(
      state,
      { failed: false, probe: false, reason: '429', retryAfterMs: 2000 },
      undefined,
      breaker,
      T,
    );
    expect(held.next.holdUntil).toBe(T + 2000);
    const again = afterDestinationAttempt(
      held.next,
      { failed: false, probe: false, reason: '429', retryAfterMs: 500 },
      undefined,
      breaker,
      T + 100,
    );
    expect(again.next.holdUntil).toBe(T + 2000);
  });
});

test('a destination is its scheme, host and port', () => {
  expect(destinationOrigin('https://Hooks.Example.com/a?b=1')).toBe('https://hooks.example.com:443');
  expect(destinationOrigin('https://127.0.0.1:8443/x')).toBe('https://127.0.0.1:8443');
  expect(destinationOrigin('http://h/x')).toBe('http://h:80');
  expect(destinationOrigin('not a url')).toBeUndefined();
});
