import type { Transaction } from 'kysely';
import pino from 'pino';
import type { EntryQueue, EntryTrigger, PendingEntry } from '../../src/audience/entry-queue';
import type { SegmentDefinition } from '../../src/audience/segments';
import { SegmentService, noLists, readsClock } from '../../src/audience/segments';
import type { Database, Db } from '../../src/db';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';
import { ValidationError } from '../../src/errors';

/** Records what the segment service asks of the entry queue, and whether it was inside a transaction. */
class RecordingQueue implements EntryQueue {
  readonly enqueued: {
    trigger: EntryTrigger;
    profileId: string;
    changeId: string;
    inTransaction: boolean;
  }[] = [];
  readonly started: PendingEntry[] = [];
  enqueue(trx: Transaction<Database>, trigger: EntryTrigger, profileId: string, changeId: string) {
    this.enqueued.push({ trigger, profileId, changeId, inTransaction: trx.isTransaction });
    return Promise.resolve([{ runId: `run_${changeId}`, flowId: 'flw_1', profileId }]);
  }
  start(entries: readonly PendingEntry[]) {
    this.started.push(...entries);
    return Promise.resolve();
  }
}

const vip: SegmentDefinition = {
  groups: [{ conditions: [{ type: 'profile_property', property: 'vip', operator: 'equals', value: true }] }],
};
const buyers: SegmentDefinition = {
  groups: [
    { conditions: [{ type: 'metric', metric: 'Placed Order', operator: 'at_least', count: 1, where: [] }] },
  ],
};

describe.each(TEST_DATABASES)('on %s', (dbKind) => {
  let db: Db;
  let queue: RecordingQueue;
  let service: SegmentService;
  let clock = Date.parse('2026-11-29T12:00:00.000Z');

  async function profile(id: string, data: Record<string, unknown>) {
    const now = new Date(clock).toISOString();
    await db
      .insertInto('profiles')
      .values({
        id,
        email: null,
        phone_number: null,
        external_id: id,
        data: JSON.stringify(data),
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data: JSON.stringify(data), updated_at: now }))
      .execute();
  }

  async function order(profileId: string) {
    const now = new Date(clock).toISOString();
    await db
      .insertInto('events')
      .values({
        id: `evt_${Math.random()}`,
        metric: 'Placed Order',
        profile_id: profileId,
        profile: '{}',
        properties: '{}',
        unique_id: null,
        time: now,
        received_at: now,
      })
      .execute();
  }

  const history = (segmentId: string) =>
    db
      .selectFrom('segment_membership_history')
      .select(['profile_id', 'entered_at', 'exited_at', 'organic'])
      .where('segment_id', '=', segmentId)
      .orderBy('id')
      .execute();

  beforeEach(async () => {
    db = await openTestDatabase(dbKind, 'segments');
    queue = new RecordingQueue();
    service = new SegmentService({
      db,
      lists: noLists,
      logger: pino({ level: 'silent' }),
      entries: queue,
      now: () => new Date(clock),
    });
  });

  afterEach(async () => {
    await service.close();
    await db.destroy();
  });

  test('a profile change makes it enter and leave a segment, with times; entry is queued in the same transaction', async () => {
    const seg = await service.create({ name: 'VIPs', definition: vip });
    await service.idle();
    await profile('prf_1', { vip: false });
    await service.reevaluate('prf_1', { kind: 'profile' });
    expect((await service.get(seg.id)).memberCount).toBe(0);

    clock += 1000;
    await profile('prf_1', { vip: true });
    await service.reevaluate('prf_1', { kind: 'profile' });
    const entered = new Date(clock).toISOString();
    expect(await service.members(seg.id, { limit: 10 })).toEqual({
      members: [{ profileId: 'prf_1', enteredAt: entered }],
      next: null,
    });
    expect(queue.enqueued).toEqual([
      {
        trigger: { type: 'segment', segmentId: seg.id },
        profileId: 'prf_1',
        changeId: expect.stringContaining(seg.id) as string,
        inTransaction: true,
      },
    ]);
    expect(queue.started).toHaveLength(1);

    // Evaluating again without a change changes nothing and queues nothing.
    await service.reevaluate('prf_1', { kind: 'profile' });
    expect(queue.enqueued).toHaveLength(1);

    clock += 1000;
    await profile('prf_1', { vip: false });
    await service.reevaluate('prf_1', { kind: 'profile' });
    expect((await service.get(seg.id)).memberCount).toBe(0);
    expect(await history(seg.id)).toEqual([
      { profile_id: 'prf_1', entered_at: entered, exited_at: new Date(clock).toISOString(), organic: 1 },
    ]);
  });

  test('two changes of one profile re-evaluated at once (two API processes) enter it once, queue one entry', async () => {
    const seg = await service.create({ name: 'VIPs', definition: vip });
    await service.idle();
    // Queueing the entry takes a while, inside the transaction: the other change reads meanwhile.
    const slow = new (class extends RecordingQueue {
      override enqueue(
        trx: Transaction<Database>,
        trigger: EntryTrigger,
        profileId: string,
        changeId: string,
      ) {
        return new Promise((r) => setTimeout(r, 50)).then(() =>
          super.enqueue(trx, trigger, profileId, changeId),
        );
      }
    })();
    const processes = [1, 2, 3, 4].map(
      () =>
        new SegmentService({
          db,
          lists: noLists,
          logger: pino({ level: 'silent' }),
          entries: slow,
          now: () => new Date(clock),
        }),
    );
    await profile('prf_1', { vip: true });
    await Promise.all(processes.map((p) => p.reevaluate('prf_1', { kind: 'profile' })));
    await Promise.all(processes.map((p) => p.close()));
    expect((await service.get(seg.id)).memberCount).toBe(1);
    expect(await history(seg.id)).toHaveLength(1);
    expect(slow.enqueued).toHaveLength(1);
  });

  test('an event only re-evaluates segments that read its metric (or the profile, when it changed)', async () => {
    const b = await service.create({ name: 'buyers', definition: buyers });
    const v = await service.create({ name: 'VIPs', definition: vip });
    await service.idle();
    await profile('prf_1', { vip: true });
    await order('prf_1');

    // Another metric, profile unchanged: neither segment is evaluated.
    await service.reevaluate('prf_1', { kind: 'event', metric: 'Viewed', profileChanged: false });
    expect([(await service.get(b.id)).memberCount, (await service.get(v.id)).memberCount]).toEqual([0, 0]);

    await service.reevaluate('prf_1', { kind: 'event', metric: 'Placed Order', profileChanged: false });
    expect([(await service.get(b.id)).memberCount, (await service.get(v.id)).memberCount]).toEqual([1, 0]);

    await service.reevaluate('prf_1', { kind: 'event', metric: 'Viewed', profileChanged: true });
    expect([(await service.get(b.id)).memberCount, (await service.get(v.id)).memberCount]).toEqual([1, 1]);
  });

  test('a definition edit recomputes every profile in the background, without queueing entries', async () => {
    for (let i = 0; i < 600; i++) await profile(`prf_${String(i).padStart(4, '0')}`, { vip: i % 3 === 0 });
    const seg = await service.create({ name: 'VIPs', definition: vip });
    await service.idle();
    const done = await service.get(seg.id);
    expect(done.memberCount).toBe(200);
    expect(done.recompute).toMatchObject({ status: 'idle', processed: 600, total: 600 });
    expect(done.recompute.finishedAt).not.toBeNull();

    const nonVip: SegmentDefinition = {
      groups: [
        { conditions: [{ type: 'profile_property', property: 'vip', operator: 'equals', value: false }] },
      ],
    };
    const patched = await service.patch(seg.id, { definition: nonVip });
    expect(patched.version).toBe(2);
    expect(patched.recompute.status).toBe('running');
    await service.idle();
    expect(await service.get(seg.id)).toMatchObject({
      memberCount: 400,
      recompute: { status: 'idle', processed: 600 },
    });
    expect(queue.enqueued).toEqual([]);
    const rows = await history(seg.id);
    expect(rows.every((r) => r.organic === 0)).toBe(true);
    expect(rows.filter((r) => r.exited_at !== null)).toHaveLength(200);

    // Keyset pages cover every member once.
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await service.members(seg.id, { limit: 150, after });
      seen.push(...page.members.map((m) => m.profileId));
      if (page.next === null) break;
      after = page.next;
    }
    expect(new Set(seen).size).toBe(400);
  });

  test('a recompute cut short continues from its stored cursor after a restart', async () => {
    for (let i = 0; i < 600; i++) await profile(`prf_${String(i).padStart(4, '0')}`, { vip: true });
    const seg = await service.create({ name: 'VIPs', definition: vip });
    // Stop after the first batch, as a process that died would.
    await service.close();
    const stopped = await service.get(seg.id);
    expect(stopped.recompute.status).toBe('running');
    expect(stopped.recompute.processed).toBeLessThan(600);
    expect(stopped.memberCount).toBe(stopped.recompute.processed);

    const restarted = new SegmentService({
      db,
      lists: noLists,
      logger: pino({ level: 'silent' }),
      entries: queue,
    });
    await restarted.resumeRecomputes();
    await restarted.idle();
    expect(await restarted.get(seg.id)).toMatchObject({
      memberCount: 600,
      recompute: { status: 'idle', processed: 600 },
    });
    expect(queue.enqueued).toEqual([]);
  });

  test('a deleted profile leaves its segments', async () => {
    const seg = await service.create({ name: 'VIPs', definition: vip });
    await service.idle();
    await profile('prf_1', { vip: true });
    await service.reevaluate('prf_1', { kind: 'profile' });
    await db.deleteFrom('profiles').where('id', '=', 'prf_1').execute();
    await service.reevaluate('prf_1', { kind: 'deleted' });
    expect((await service.get(seg.id)).memberCount).toBe(0);
  });

  test('a list id no list has is refused, naming the condition', async () => {
    const withList: SegmentDefinition = {
      groups: [
        { conditions: [{ type: 'profile_property', property: 'vip', operator: 'is_set' }] },
        { conditions: [{ type: 'list_membership', listId: 'lst_nope', operator: 'in' }] },
      ],
    };
    const err = await service.create({ name: 'x', definition: withList }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).details).toEqual([
      { path: 'definition.groups.1.conditions.0.listId', message: 'no list has the id lst_nope' },
    ]);
    expect(await service.list()).toEqual([]);
  });

  test('segments that read the clock are refreshed as time passes, without queueing entries', async () => {
    const recent: SegmentDefinition = {
      groups: [
        { conditions: [{ type: 'profile_property', property: 'seen', operator: 'in_last_days', value: 7 }] },
      ],
    };
    expect([readsClock(recent), readsClock(vip), readsClock(buyers)]).toEqual([true, false, false]);
    expect(
      readsClock({
        groups: [{ conditions: [{ type: 'metric', metric: 'M', operator: 'zero', lastDays: 3, where: [] }] }],
      }),
    ).toBe(true);

    await profile('prf_1', { seen: new Date(clock).toISOString() });
    const seg = await service.create({ name: 'Seen this week', definition: recent });
    await service.create({ name: 'VIPs', definition: vip });
    await service.idle();
    expect((await service.get(seg.id)).memberCount).toBe(1);

    clock += 8 * 86_400_000;
    expect(await service.refreshClockDependent()).toEqual([seg.id]);
    await service.idle();
    expect(await service.get(seg.id)).toMatchObject({
      memberCount: 0,
      recompute: { status: 'idle', processed: 1 },
    });
    expect(queue.enqueued).toEqual([]);
  });
});
