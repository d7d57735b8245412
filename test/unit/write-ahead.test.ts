import { AnalyticsStore } from '../../src/analytics/store';
import type { Db } from '../../src/db';
import type { AttemptRecord } from '../../src/db/delivery-store';
import { BEGUN_BEFORE, DeliveryStore, UNKNOWN_OUTCOME_REASON } from '../../src/db/delivery-store';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';

/** Write-ahead attempt rows: `sending` before the request, completed after, `unknown` when never completed. */

const at = (attempt: number) => `2026-11-29T10:00:0${attempt}.000Z`;

function outcome(attempt: number, ok: boolean): AttemptRecord {
  return {
    deliveryId: 'dlv_1',
    runId: 'run_1',
    flowId: 'flw_1',
    flowVersion: 1,
    stepId: 'w',
    profileId: 'prf_1',
    attempt,
    manual: false,
    startedAt: at(attempt),
    durationMs: 12,
    httpStatus: ok ? 200 : 503,
    errorClass: null,
    outcome: ok ? 'delivered' : 'retryable',
    reason: ok ? 'HTTP 200 OK' : 'HTTP 503 Service Unavailable',
    responseExcerpt: null,
    status: ok ? 'delivered' : 'retrying',
    nextAttemptAt: ok ? null : at(attempt + 1),
    context: null,
    resendOf: null,
  };
}

const begin = (store: DeliveryStore, attempt: number) =>
  store.beginAttempt({ deliveryId: 'dlv_1', attempt, manual: false, startedAt: at(attempt) });

async function rows(db: Db) {
  return db
    .selectFrom('delivery_attempts')
    .select(['attempt', 'outcome', 'reason'])
    .where('delivery_id', '=', 'dlv_1')
    .orderBy('attempt')
    .execute();
}

describe.each(TEST_DATABASES)('on %s', (dbKind) => {
  test('an attempt is written as sending before its request, then completed in place', async () => {
    const db = await openTestDatabase(dbKind, 'write-ahead-complete');
    const store = new DeliveryStore(db);
    await begin(store, 1);
    expect(await rows(db)).toEqual([{ attempt: 1, outcome: 'sending', reason: 'request being sent' }]);
    // The delivery and its counts wait for the outcome: a request in flight is no attempt yet.
    expect(await store.get('dlv_1')).toBeUndefined();
    await store.recordAttempt(outcome(1, true));
    // Replayed (a spooled record, a retried write): changes nothing.
    await store.recordAttempt({ ...outcome(1, false), status: 'retrying' });
    expect(await rows(db)).toEqual([{ attempt: 1, outcome: 'delivered', reason: 'HTTP 200 OK' }]);
    expect(await store.get('dlv_1')).toMatchObject({ status: 'delivered', attempts: 1 });
    const detail = await new AnalyticsStore(db).get('dlv_1');
    expect(detail?.delivery.possibleDuplicate).toBe(false);
    await db.destroy();
  });

  test('a sending attempt followed by a later one is settled unknown; a delivery after it is a possible duplicate', async () => {
    const db = await openTestDatabase(dbKind, 'write-ahead-unknown');
    const store = new DeliveryStore(db);
    await begin(store, 1);
    await store.recordAttempt(outcome(1, false));
    // Attempt 2's worker dies mid-send: its row stays sending until attempt 3 starts.
    await begin(store, 2);
    await begin(store, 3);
    expect(await rows(db)).toEqual([
      { attempt: 1, outcome: 'retryable', reason: 'HTTP 503 Service Unavailable' },
      { attempt: 2, outcome: 'unknown', reason: UNKNOWN_OUTCOME_REASON },
      { attempt: 3, outcome: 'sending', reason: 'request being sent' },
    ]);
    await store.recordAttempt(outcome(3, true));
    const detail = await new AnalyticsStore(db).get('dlv_1');
    expect(detail?.attempts.map((a) => [a.attempt, a.class])).toEqual([
      [1, 'retryable'],
      [2, 'unknown'],
      [3, 'delivered'],
    ]);
    expect(detail?.delivery).toMatchObject({ status: 'delivered', attempts: 3, possibleDuplicate: true });
    // The roll-ups count the delivery once, as delivered after 3 attempts.
    const rollups = await db
      .selectFrom('delivery_rollups')
      .select(['status', 'attempts', 'count'])
      .where('grain', '=', 'h')
      .where('count', '!=', 0)
      .execute();
    expect(rollups).toEqual([{ status: 'delivered', attempts: 3, count: 1 }]);
    await db.destroy();
  });

  test('an attempt that answers after a later one started keeps its real outcome', async () => {
    const db = await openTestDatabase(dbKind, 'write-ahead-late');
    const store = new DeliveryStore(db);
    await begin(store, 1);
    await begin(store, 2);
    await store.recordAttempt(outcome(1, false));
    expect((await rows(db))[0]).toMatchObject({ attempt: 1, outcome: 'retryable' });
    await db.destroy();
  });

  test('an attempt number that runs again after it completed gets its recorded outcome back, not a new row', async () => {
    const db = await openTestDatabase(dbKind, 'write-ahead-again');
    const store = new DeliveryStore(db);
    expect(await begin(store, 1)).toBeUndefined();
    await store.recordAttempt(outcome(1, true));
    // Temporal lost attempt 1's completion and runs attempt 1 again: it must not send twice.
    expect(await begin(store, 1)).toEqual({
      outcome: 'delivered',
      httpStatus: 200,
      errorClass: null,
      reason: 'HTTP 200 OK',
      durationMs: 12,
    });
    // Still sending (its worker may be alive): sent again, as before.
    await begin(store, 2);
    expect(await begin(store, 2)).toBeUndefined();
    await db.destroy();
  });

  test('two delivered attempts (the first outlived its timeout, then answered) flag a duplicate', async () => {
    const db = await openTestDatabase(dbKind, 'write-ahead-twice');
    const store = new DeliveryStore(db);
    await begin(store, 1);
    await begin(store, 2);
    await store.recordAttempt(outcome(2, true));
    await store.recordAttempt(outcome(1, true));
    const detail = await new AnalyticsStore(db).get('dlv_1');
    expect(detail?.attempts.map((a) => a.class)).toEqual(['delivered', 'delivered']);
    // The late first attempt never moves the delivery back.
    expect(detail?.delivery).toMatchObject({ status: 'delivered', attempts: 2, possibleDuplicate: true });
    await db.destroy();
  });

  test('finalizing a delivery whose last attempt never completed settles that attempt unknown', async () => {
    const db = await openTestDatabase(dbKind, 'write-ahead-finalize');
    const store = new DeliveryStore(db);
    await begin(store, 1);
    await store.recordAttempt(outcome(1, false));
    await begin(store, 2);
    await store.finalize('dlv_1', 'failed', 'activity StartToClose timeout');
    expect((await rows(db))[1]).toEqual({ attempt: 2, outcome: 'unknown', reason: UNKNOWN_OUTCOME_REASON });
    const detail = await new AnalyticsStore(db).get('dlv_1');
    expect(detail?.delivery).toMatchObject({ status: 'failed', possibleDuplicate: false });
    expect(detail?.attempts[1]).toMatchObject({ class: 'unknown', reason: UNKNOWN_OUTCOME_REASON });
    await db.destroy();
  });

  test('a fresh first attempt whose number was begun before is told so; completed, it gets its outcome back', async () => {
    const db = await openTestDatabase(dbKind, 'write-ahead-fresh');
    const store = new DeliveryStore(db);
    const fresh = (attempt: number) =>
      store.beginAttempt({
        deliveryId: 'dlv_1',
        attempt,
        manual: false,
        startedAt: at(attempt),
        fresh: true,
      });
    expect(await store.attemptsUsed('dlv_1')).toBe(0);
    expect(await fresh(1)).toBeUndefined();
    // Its worker died mid-send: the local activity runs again from attempt 1.
    expect(await fresh(1)).toBe(BEGUN_BEFORE);
    expect(await store.attemptsUsed('dlv_1')).toBe(1);
    expect(await fresh(2)).toBeUndefined();
    expect((await rows(db))[0]).toEqual({ attempt: 1, outcome: 'unknown', reason: UNKNOWN_OUTCOME_REASON });
    await store.recordAttempt(outcome(2, true));
    // Completed: a next call re-runs attempt 2 and gets its outcome, so it counts one attempt used.
    expect(await store.attemptsUsed('dlv_1')).toBe(1);
    expect(await fresh(2)).toMatchObject({ outcome: 'delivered', httpStatus: 200 });
    const detail = await new AnalyticsStore(db).get('dlv_1');
    expect(detail?.delivery).toMatchObject({ status: 'delivered', attempts: 2, possibleDuplicate: true });
    await db.destroy();
  });
});
