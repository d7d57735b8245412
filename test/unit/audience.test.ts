import fs from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import os from 'node:os';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { admission, entryRunId, FlowEntries } from '../../src/audience/entries';
import { RunLauncher } from '../../src/audience/run-launcher';
import { RunStartQueue } from '../../src/audience/run-start-queue';
import { decodeCursor, encodeCursor } from '../../src/audience/lists';
import { mergeProfile } from '../../src/audience/profiles';
import { loadConfig } from '../../src/config';
import type { Database, Db } from '../../src/db';
import { migrationProvider } from '../../src/db/migrations';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';
import { ValidationError } from '../../src/errors';
import {
  eventVariableProblems,
  expressionUsesEvent,
  templateUsesEvent,
} from '../../src/flows/event-variables';
import type { Flow } from '../../src/flows/model';
import { createFlowSchema, isRefusalMetric, reentryOf, reentrySchema } from '../../src/flows/model';
import { FlowStore } from '../../src/flows/store';
import { createLogger } from '../../src/logger';
import type { Principal, Scope } from '../../src/permissions';
import { permissionError } from '../../src/permissions';
import type { FlowRunInput } from '../../src/shared/run-types';
import type { RunStarter } from '../../src/temporal/run-starter';

describe('event variables in list and segment flows', () => {
  test.each([
    ['{"v": {{ event.value }}}', true],
    ['{"v": {{ event|lookup:"Order Id" }}}', true],
    ['{% for i in event.items %}{{ i }}{% endfor %}', true],
    ['{"e": "{{ person.email }}", "type": "event"}', false],
    ['{"e": "{{ person.last_event }}"}', false],
    ['{"e": "{{ person.event }}"}', false],
    ['{"e": "{{ "event" }}"}', false],
  ])('%s reads event: %s', (body, uses) => {
    expect(templateUsesEvent(body)).toBe(uses);
  });

  test('split conditions: event as a name, not as text or an attribute', () => {
    expect(expressionUsesEvent('event.value > 1')).toBe(true);
    expect(expressionUsesEvent('person.event == "event"')).toBe(false);
  });

  test('each field is named with the message of its trigger; metric flows refuse nothing', () => {
    const steps: Flow['steps'] = [
      { id: 'a', type: 'webhook', url: 'https://x', headers: {}, body: '{{ event.v }}' },
      { id: 'b', type: 'split', condition: 'event.v', yes: [], no: [] },
    ];
    const paths = new Map([
      ['a', 'steps.0'],
      ['b', 'steps.1'],
    ]);
    expect(eventVariableProblems({ type: 'segment', segmentId: 'seg_1' }, steps, paths)).toEqual([
      { path: 'steps.0.body', message: 'event variables are not available in segment-triggered flows' },
      { path: 'steps.1.condition', message: 'event variables are not available in segment-triggered flows' },
    ]);
    expect(eventVariableProblems({ type: 'metric', metric: 'm' }, steps, paths)).toEqual([]);
  });
});

describe('triggers and re-entry', () => {
  test('metrics that record leaving or refusing cannot trigger, in any case', () => {
    for (const m of [
      'Unsubscribed',
      'unsubscribed from list',
      'Unsubscribed from SMS',
      'Marked Email as Spam ',
    ])
      expect(isRefusalMetric(m)).toBe(true);
    expect(isRefusalMetric('Subscribed to List')).toBe(false);
    const res = createFlowSchema.safeParse({
      name: 'x',
      trigger: { type: 'metric', metric: 'Unsubscribed' },
    });
    expect(res.success).toBe(false);
    expect(res.error?.issues[0]?.path).toEqual(['trigger', 'metric']);
  });

  test('re-entry: "after" needs seconds, others take none; defaults follow the trigger', () => {
    expect(reentrySchema.safeParse({ mode: 'after' }).error?.issues[0]?.path).toEqual(['seconds']);
    expect(reentrySchema.safeParse({ mode: 'never', seconds: 5 }).success).toBe(false);
    expect(reentryOf({ trigger: { type: 'list', listId: 'l' } })).toEqual({ mode: 'never' });
    expect(reentryOf({ trigger: { type: 'metric', metric: 'm' } })).toEqual({ mode: 'always' });
  });

  test('admission: never once, after waits the seconds since the last entry, always always', () => {
    const now = '2026-11-29T10:00:10.000Z';
    expect(admission({ mode: 'never' }, undefined, 'c1', now)).toEqual({ admit: true, entryKey: 'once' });
    expect(admission({ mode: 'never' }, '2026-01-01T00:00:00Z', 'c1', now).admit).toBe(false);
    const after = { mode: 'after' as const, seconds: 10 };
    expect(admission(after, '2026-11-29T10:00:01.000Z', 'c1', now).admit).toBe(false);
    expect(admission(after, '2026-11-29T10:00:00.000Z', 'c1', now)).toEqual({ admit: true, entryKey: 'c1' });
    expect(admission({ mode: 'always' }, now, 'c2', now)).toEqual({ admit: true, entryKey: 'c2' });
  });
});

test('profile updates keep what is not sent and merge properties and location', () => {
  expect(
    mergeProfile(
      { email: 'a@x.io', first_name: 'A', properties: { a: 1, b: 2 }, location: { city: 'Paris' } },
      { email: 'a@x.io', properties: { b: 3 }, location: { timezone: 'Europe/Paris' } },
    ),
  ).toEqual({
    email: 'a@x.io',
    first_name: 'A',
    properties: { a: 1, b: 3 },
    location: { city: 'Paris', timezone: 'Europe/Paris' },
  });
});

test('member cursors round-trip; a forged one is a 422 on "after"', () => {
  const row = {
    list_id: 'l',
    profile_id: 'p',
    status: 'subscribed' as const,
    joined_at: 't',
    confirmed_at: null,
  };
  expect(decodeCursor(encodeCursor(row))).toEqual({ joinedAt: 't', profileId: 'p' });
  expect(() => decodeCursor('nope')).toThrow(ValidationError);
});

describe.each(TEST_DATABASES)('FlowEntries on %s', (dbKind) => {
  let dir: string;
  let db: Db;
  let started: FlowRunInput[];
  let starter: RunStarter;
  let entries: FlowEntries;
  const config = loadConfig({});
  const now = () => new Date().toISOString();

  const flow = (id: string, reentry?: Flow['reentry']): Flow => ({
    id,
    name: id,
    status: 'live',
    trigger: { type: 'list', listId: 'lst_1' },
    steps: [],
    ...(reentry ? { reentry } : {}),
    version: 1,
    createdAt: now(),
    updatedAt: now(),
  });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-audience-'));
    db = await openTestDatabase(dbKind, 'entries', path.join(dir, 'test.db'));
    started = [];
    starter = {
      flowRun: (input: FlowRunInput) => {
        if (started.some((s) => s.runId === input.runId))
          return Promise.reject(new WorkflowExecutionAlreadyStartedError('started', input.runId, 'flowRun'));
        started.push(input);
        return Promise.resolve({});
      },
    } as unknown as RunStarter;
    entries = new FlowEntries({ db, starter, config, logger: createLogger('test', 'silent') });
    await db
      .insertInto('profiles')
      .values({
        id: 'prf_1',
        email: 'ada@example.com',
        phone_number: null,
        external_id: null,
        data: JSON.stringify({ email: 'ada@example.com', properties: { vip: true } }),
        created_at: now(),
        updated_at: now(),
      })
      .execute();
  });
  afterEach(async () => {
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a flow that never re-enters takes one entry whatever the number of changes', async () => {
    await new FlowStore(db).insert(flow('flw_never'));
    const trigger = { type: 'list', listId: 'lst_1' } as const;
    const results = await Promise.all(
      ['c1', 'c2', 'c3'].map((c) =>
        db.transaction().execute((trx) => entries.enqueue(trx, trigger, 'prf_1', c, now())),
      ),
    );
    expect(results.flat()).toHaveLength(1);
    const rows = await db.selectFrom('flow_entries').selectAll().execute();
    expect(rows).toEqual([
      expect.objectContaining({ flow_id: 'flw_never', profile_id: 'prf_1', entry_key: 'once' }),
    ]);
  });

  test('the same change always maps to the same run; the run carries person only', async () => {
    const f = flow('flw_always', { mode: 'always' });
    await new FlowStore(db).insert(f);
    const trigger = { type: 'list', listId: 'lst_1' } as const;
    const a = await db.transaction().execute((trx) => entries.enqueue(trx, trigger, 'prf_1', 'c1', now()));
    const b = await db.transaction().execute((trx) => entries.enqueue(trx, trigger, 'prf_1', 'c1', now()));
    expect(a).toEqual([
      { runId: entryRunId('flw_always', 'prf_1', 'c1'), flowId: 'flw_always', profileId: 'prf_1' },
    ]);
    expect(b).toEqual([]);
    await entries.start(a);
    await entries.start(a);
    expect(started).toHaveLength(1);
    expect(started[0]!.context).toEqual({
      person: { email: 'ada@example.com', vip: true, id: 'prf_1' },
      event: {},
    });
    expect(started[0]!.eventId).toBeNull();
  });

  test('a run recorded but never started (a crash between commit and start) is taken over once its claim lapses, once', async () => {
    await new FlowStore(db).insert(flow('flw_sweep'));
    const trigger = { type: 'list', listId: 'lst_1' } as const;
    const pending = await db
      .transaction()
      .execute((trx) => entries.enqueue(trx, trigger, 'prf_1', 'c1', '2026-01-01T00:00:00.000Z'));
    // No start(): the process "died" here. Another process's starter waits for the claim to lapse.
    let clock = Date.now();
    const other = new RunStartQueue({
      db,
      launcher: new RunLauncher({ db, starter, config }),
      logger: createLogger('test', 'silent'),
      claimant: 'api:other',
      ...config.runStarter,
      now: () => clock,
    });
    expect(await other.poll()).toBe(0);
    expect(started).toEqual([]);
    clock += config.runStarter.leaseMs + 1;
    expect(await other.poll()).toBe(1);
    await other.idle();
    expect(started.map((s) => s.runId)).toEqual(pending.map((p) => p.runId));
    expect(await other.poll()).toBe(0);
    const run = await db.selectFrom('runs').selectAll().executeTakeFirstOrThrow();
    expect(run.started_at).not.toBeNull();
    expect(run.claimed_by).toBe('api:other');
    await other.close();
  });
});

test('0007 rebuilds runs: rows recorded before it keep their event, and event_id may now be null', async () => {
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }),
  });
  const migrator = new Migrator({ db, provider: migrationProvider });
  expect((await migrator.migrateTo('0006_session_expiry_index')).error).toBeUndefined();
  const old = db as unknown as Kysely<{ runs: Record<string, unknown> }>;
  const row = {
    id: 'run_1',
    flow_id: 'f',
    flow_version: 1,
    event_id: 'evt_1',
    started_at: null,
    created_at: 't',
  };
  await old.insertInto('runs').values(row).execute();
  expect((await migrator.migrateToLatest()).error).toBeUndefined();
  // 0013: a queued run recorded before it is held by no starter, so any starter takes it at once.
  expect(await db.selectFrom('runs').selectAll().execute()).toEqual([
    {
      ...row,
      profile_id: null,
      context: null,
      claimed_by: null,
      claim_expires_at: '1970-01-01T00:00:00.000Z',
    },
  ]);
  await db
    .insertInto('runs')
    .values({ ...row, id: 'run_2', event_id: null, profile_id: 'p', context: '{}' })
    .execute();
  await db.destroy();
});

test('profiles and lists: every role reads, managers and above write, keys need the profiles scopes', () => {
  const user = (role: 'manager' | 'analyst') => ({
    id: 'u',
    email: 'u@example.com',
    role,
    twoStepEnabled: false,
    createdAt: 't',
    disabledAt: null,
  });
  const key = (role: 'manager' | 'analyst', scopes: Scope[]): Principal => ({
    kind: 'api_key',
    user: user(role),
    keyId: 'k',
    scopes,
  });
  expect(permissionError(key('analyst', ['profiles:read']), 'profiles:read')).toBeUndefined();
  expect(permissionError(key('analyst', ['profiles:write']), 'profiles:write')?.code).toBe('role_forbidden');
  expect(permissionError(key('manager', ['profiles:write']), 'profiles:write')).toBeUndefined();
  expect(permissionError(key('manager', ['flows:write']), 'profiles:write')?.code).toBe('scope_missing');
});
