import { openTestDatabase, TEST_DATABASES } from '../support/databases';
import type { AttemptRecord } from '../../src/db/delivery-store';
import { DeliveryStore } from '../../src/db/delivery-store';

/** The record of an attempt that said "retrying", after which the worker died before the next one reported. */
const retrying: AttemptRecord = {
  deliveryId: 'dlv_1',
  runId: 'run_1',
  flowId: 'flw_1',
  flowVersion: 1,
  stepId: 'w',
  profileId: 'prf_1',
  attempt: 2,
  manual: false,
  startedAt: '2026-11-29T10:00:00.000Z',
  durationMs: 12,
  httpStatus: 503,
  errorClass: null,
  outcome: 'retryable',
  reason: 'HTTP 503 Service Unavailable',
  responseExcerpt: null,
  status: 'retrying',
  nextAttemptAt: '2026-11-29T10:00:01.000Z',
  context: null,
  resendOf: null,
};

describe.each(TEST_DATABASES)('on %s', (dbKind) => {
  test('finalizing a delivery whose last attempt never reported ends it, and moves it between the roll-ups', async () => {
    const db = await openTestDatabase(dbKind, 'finalize');
    const store = new DeliveryStore(db);
    await store.recordAttempt(retrying);
    await store.finalize('dlv_1', 'failed', 'activity StartToClose timeout');

    expect(await store.get('dlv_1')).toMatchObject({
      status: 'failed',
      attempts: 2,
      reason: 'activity StartToClose timeout',
      next_attempt_at: null,
      last_http_status: 503,
    });
    const rollups = await db
      .selectFrom('delivery_rollups')
      .select(['grain', 'status', 'attempts', 'count'])
      .where('count', '!=', 0)
      .orderBy('grain')
      .execute();
    expect(rollups).toEqual([
      { grain: 'd', status: 'failed', attempts: 2, count: 1 },
      { grain: 'h', status: 'failed', attempts: 2, count: 1 },
    ]);

    // A delivery that already ended is left as it is.
    await store.finalize('dlv_1', 'skipped', 'late');
    expect((await store.get('dlv_1'))?.status).toBe('failed');
    await db.destroy();
  });
});
