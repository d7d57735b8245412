import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { DateSweeper } from '../../src/audience/date-sweep';
import { createEligibilityJudge } from '../../src/audience/eligibility';
import { entryRunId, FlowEntries } from '../../src/audience/entries';
import { loadConfig } from '../../src/config';
import type { Db } from '../../src/db';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';
import { DateStore } from '../../src/db/date-store';
import type { Flow } from '../../src/flows/model';
import { FlowStore } from '../../src/flows/store';
import { createLogger } from '../../src/logger';
import type { FlowRunInput } from '../../src/shared/run-types';
import type { RunStarter } from '../../src/temporal/run-starter';

/** The sweep of a date flow on a real SQLite file, with a starter that remembers what it started. */
describe.each(TEST_DATABASES)('on %s', (dbKind) => {
  describe('DateSweeper', () => {
    let dir: string;
    let db: Db;
    let started: FlowRunInput[];
    let sweeper: DateSweeper;
    const config = loadConfig({ HOOKFLOW_DEFAULT_TIMEZONE: 'Europe/Paris' });
    const logger = createLogger('test', 'silent');
    const T0 = '2026-05-17T06:00:00.000Z';

    const flow: Flow = {
      id: 'flw_bday',
      name: 'birthday',
      status: 'live',
      trigger: {
        type: 'date',
        property: 'birthday',
        offset: { value: 0, unit: 'days', direction: 'after' },
        recurrence: 'annually',
        time: '09:00',
        timezone: 'profile',
      },
      steps: [],
      reentry: { mode: 'always' },
      version: 1,
      createdAt: T0,
      updatedAt: T0,
    };

    async function putProfile(id: string, data: Record<string, unknown>): Promise<void> {
      const row = { id, email: null, phone_number: null, external_id: null, data: JSON.stringify(data) };
      await db
        .insertInto('profiles')
        .values({ ...row, created_at: T0, updated_at: T0 })
        .onConflict((oc) => oc.column('id').doUpdateSet({ data: row.data }))
        .execute();
    }

    beforeEach(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-dates-'));
      db = await openTestDatabase(dbKind, 'datesweep', path.join(dir, 'test.db'));
      started = [];
      const starter = {
        flowRun: (input: FlowRunInput) => {
          if (started.some((s) => s.runId === input.runId))
            return Promise.reject(
              new WorkflowExecutionAlreadyStartedError('started', input.runId, 'flowRun'),
            );
          started.push(input);
          return Promise.resolve({});
        },
      } as unknown as RunStarter;
      const entries = new FlowEntries({ db, starter, config, logger });
      sweeper = new DateSweeper({ db, entries, config, logger });
      await new FlowStore(db).insert(flow);
      // Paris (default zone, UTC+2 in May): 09:00 is 07:00Z. Tokyo: 09:00 is 00:00Z.
      await putProfile('prf_paris', { first_name: 'Ada', properties: { birthday: '1990-05-17' } });
      await putProfile('prf_tokyo', {
        location: { timezone: 'Asia/Tokyo' },
        properties: { birthday: '05/18/1985' },
      });
      await putProfile('prf_bad', { properties: { birthday: '17-05-1990' } });
      await putProfile('prf_none', { properties: {} });
    });
    afterEach(async () => {
      await db.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('each sweep enters the profiles due since the last one, once, with person only', async () => {
      const first = await sweeper.sweep(flow.id, new Date('2026-05-17T06:59:00Z'));
      expect(first).toMatchObject({ from: T0, profiles: 3, started: 0 });
      const second = await sweeper.sweep(flow.id, new Date('2026-05-17T07:00:30Z'));
      expect(second).toMatchObject({ from: '2026-05-17T06:59:00.000Z', started: 1 });
      expect(started.map((s) => [s.runId, s.profileId])).toEqual([
        [entryRunId(flow.id, 'prf_paris', 'date:2026-05-17'), 'prf_paris'],
      ]);
      expect(started[0]!.context.person).toMatchObject({ first_name: 'Ada', birthday: '1990-05-17' });
      // Tokyo's 09:00 on May 18 is 00:00Z.
      await sweeper.sweep(flow.id, new Date('2026-05-18T00:00:00Z'));
      expect(started.map((s) => s.profileId)).toEqual(['prf_paris', 'prf_tokyo']);
    });

    test('a sweep run twice over the same window starts one run', async () => {
      const at = new Date('2026-05-17T07:01:00Z');
      const [a, b] = await Promise.all([sweeper.sweep(flow.id, at), sweeper.sweep(flow.id, at)]);
      expect(a.started + b.started).toBe(1);
      await new DateStore(db).forgetFlow(flow.id); // the watermark lost: the window is looked at again
      expect((await sweeper.sweep(flow.id, at)).started).toBe(0);
      expect(started).toHaveLength(1);
    });

    test('a sweep after downtime catches up the sends it missed', async () => {
      const res = await sweeper.sweep(flow.id, new Date('2026-05-19T12:00:00Z'));
      expect(res.started).toBe(2);
    });

    test('a date changed after the run started is skipped "date changed"; unchanged, it is eligible', async () => {
      await sweeper.sweep(flow.id, new Date('2026-05-17T07:01:00Z'));
      const run = { runId: started[0]!.runId, flowId: flow.id, profileId: 'prf_paris' };
      const judge = createEligibilityJudge({ db, defaultTimezone: 'Europe/Paris' });
      expect(await judge.judge(run, flow)).toEqual({ eligible: true });
      await putProfile('prf_paris', { properties: { birthday: '1990-06-01' } });
      expect(await judge.judge(run, flow)).toEqual({ eligible: false, reason: 'date changed' });
    });

    test('a profile changed after the sweep passed its send time is entered at once', async () => {
      await sweeper.sweep(flow.id, new Date('2026-05-17T07:10:00Z'));
      expect(started).toHaveLength(1);
      const data = { properties: { birthday: '2001-05-17' } };
      await putProfile('prf_late', data);
      expect(await sweeper.profileChanged('prf_late', data, new Date('2026-05-17T07:20:00Z'))).toBe(1);
      // Left to the sweep when its send is still ahead.
      const ahead = { properties: { birthday: '2001-05-20' } };
      expect(await sweeper.profileChanged('prf_ahead', ahead, new Date('2026-05-17T07:20:00Z'))).toBe(0);
    });

    test('the profile API view says how each date property is read', async () => {
      expect(await sweeper.describe({ properties: { birthday: '17-05-1990' } })).toEqual({
        birthday: {
          ok: false,
          reason: expect.stringContaining('unambiguously') as unknown,
          timezone: 'Europe/Paris',
        },
      });
      expect(
        await sweeper.describe({
          location: { timezone: 'Asia/Tokyo' },
          properties: { birthday: 643_161_600 },
        }),
      ).toEqual({ birthday: { ok: true, date: '1990-05-20', timezone: 'Asia/Tokyo' } });
    });

    test('a draft flow sweeps nothing', async () => {
      const draft = await new FlowStore(db).get(flow.id);
      await new FlowStore(db).update({ ...draft!, status: 'draft', version: 2 }, 1);
      expect((await sweeper.sweep(flow.id, new Date('2026-05-19T00:00:00Z'))).started).toBe(0);
    });
  });
});
