import pino from 'pino';
import type { Db } from '../../src/db';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';
import { BacklogFullError } from '../../src/errors';
import { REFUSED_EVENT } from '../../src/api/backlog';
import { BACKLOG_RETRY_AFTER_SECONDS, RunBacklog } from '../../src/runs/backlog';

/** The backlog counts the runs waiting for Temporal in the real schema and refuses at its bound. */

describe.each(TEST_DATABASES)('on %s', (dbKind) => {
  let db: Db;

  beforeEach(async () => {
    db = await openTestDatabase(dbKind, 'backlog');
  });

  afterEach(async () => {
    await db.destroy();
  });

  async function recordRuns(ids: string[], startedAt: string | null): Promise<void> {
    await db
      .insertInto('runs')
      .values(
        ids.map((id) => ({
          id,
          flow_id: 'flw_1',
          flow_version: 1,
          event_id: null,
          profile_id: 'prof_1',
          context: null,
          started_at: startedAt,
          created_at: '2026-11-30T00:00:00.000Z',
        })),
      )
      .execute();
  }

  test('counts only runs not started, refuses at the bound with the wait, and admits once they start', async () => {
    const counts: number[] = [];
    const backlog = new RunBacklog({
      db,
      max: 3,
      logger: pino({ level: 'silent' }),
      onCount: (n) => counts.push(n),
    });
    await recordRuns(['run_a', 'run_b'], '2026-11-30T00:00:01.000Z');
    await recordRuns(['run_c', 'run_d'], null);
    await backlog.refresh();
    expect(backlog.queued).toBe(2);
    expect(() => backlog.admit(REFUSED_EVENT)).not.toThrow();

    await recordRuns(['run_e'], null);
    // Until the next count, the last one stands (the bound is soft by one interval).
    expect(() => backlog.admit(REFUSED_EVENT)).not.toThrow();
    await backlog.refresh();
    let refusal: unknown;
    try {
      backlog.admit(REFUSED_EVENT);
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(BacklogFullError);
    const e = refusal as BacklogFullError;
    expect(e).toMatchObject({ kind: 'unavailable', code: 'backlog_full', queued: 3, limit: 3 });
    expect(e.retryAfterSeconds).toBe(BACKLOG_RETRY_AFTER_SECONDS);
    expect(e.message).toBe(
      `The event was NOT stored: 3 runs are waiting for Temporal (the limit is 3). Send it again after ${BACKLOG_RETRY_AFTER_SECONDS} s; posted again with the same unique_id it is stored once.`,
    );

    await db
      .updateTable('runs')
      .set({ started_at: '2026-11-30T00:00:02.000Z' })
      .where('id', '=', 'run_c')
      .execute();
    await backlog.refresh();
    expect(() => backlog.admit(REFUSED_EVENT)).not.toThrow();
    expect(counts).toEqual([2, 3, 2]);
  });

  test('a failed count keeps the last one instead of admitting everything', async () => {
    const backlog = new RunBacklog({ db, max: 1, logger: pino({ level: 'silent' }) });
    await recordRuns(['run_a'], null);
    await backlog.refresh();
    await db.destroy();
    await backlog.refresh();
    expect(backlog.queued).toBe(1);
    expect(() => backlog.admit(REFUSED_EVENT)).toThrow(BacklogFullError);
    db = await openTestDatabase(dbKind, 'backlog');
  });
});
