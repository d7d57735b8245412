import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import pino from 'pino';
import { CatalogService, PriceDropFanOut } from '../../src/audience/catalog';
import { FlowEntries } from '../../src/audience/entries';
import { loadConfig } from '../../src/config';
import type { Db } from '../../src/db';
import { openTestDatabase, TEST_DATABASES } from '../support/databases';
import { FlowStore } from '../../src/flows/store';
import type { FlowRunInput, PriceDropFanOutInput } from '../../src/shared/run-types';
import type { RunStarter } from '../../src/temporal/run-starter';

/** A starter that fails while `down` and otherwise records each (flow, drop) it started, once. */
function fakeStarter() {
  const started = new Set<string>();
  const state = { down: true, calls: 0 };
  const starter = {
    priceDropFanOut(input: PriceDropFanOutInput) {
      state.calls++;
      if (state.down) return Promise.reject(new Error('Temporal unavailable'));
      const id = `${input.flowId}/${input.dropId}`;
      if (started.has(id))
        return Promise.reject(new WorkflowExecutionAlreadyStartedError('started', id, 'x'));
      started.add(id);
      return Promise.resolve({});
    },
  };
  return { starter: starter as unknown as RunStarter, started, state };
}

describe.each(TEST_DATABASES)('on %s', (dbKind) => {
  let db: Db;
  beforeEach(async () => {
    db = await openTestDatabase(dbKind, 'catalog');
    const at = new Date().toISOString();
    await new FlowStore(db).insert({
      id: 'flw_drop',
      name: 'drop',
      status: 'live',
      trigger: { type: 'price_drop', threshold: { percent: 10 }, audience: ['viewed'], lookbackDays: 30 },
      steps: [],
      version: 1,
      createdAt: at,
      updatedAt: at,
    });
  });
  afterEach(() => db.destroy());

  const shoe = (price: number) => ({ title: 'Shoe', price, currency: 'USD', inStock: true });

  test('a drop whose fan-out could not start is started by the sweep, once', async () => {
    const { starter, started, state } = fakeStarter();
    let now = Date.parse('2026-11-29T10:00:00Z');
    const catalog = new CatalogService({
      db,
      starter,
      logger: pino({ level: 'silent' }),
      now: () => new Date(now),
    });
    await catalog.put('sku-1', shoe(50));
    // The request answers with the drop although the start failed: recorded first, started after.
    const put = await catalog.put('sku-1', shoe(40));
    expect(put.drop?.flows).toEqual(['flw_drop']);
    expect(started.size).toBe(0);
    expect((await catalog.drop(put.drop!.id)).fanouts[0]).toMatchObject({ workflowStarted: false });

    state.down = false;
    now += 60_000;
    expect(await catalog.sweep()).toBe(1);
    expect([...started]).toEqual([`flw_drop/${put.drop!.id}`]);
    expect((await catalog.drop(put.drop!.id)).fanouts[0]).toMatchObject({ workflowStarted: true });
    // Nothing left to sweep; a repeated update of the same price records no drop.
    expect(await catalog.sweep()).toBe(0);
    expect((await catalog.put('sku-1', shoe(40))).drop).toBeUndefined();
    expect(started.size).toBe(1);
  });

  test('every price change is kept; a drop under the threshold fans out to no flow', async () => {
    const { starter } = fakeStarter();
    const catalog = new CatalogService({ db, starter, logger: pino({ level: 'silent' }) });
    await catalog.put('sku-2', shoe(100));
    expect((await catalog.put('sku-2', shoe(95))).drop?.flows).toEqual([]);
    await catalog.put('sku-2', shoe(120));
    expect((await catalog.get('sku-2')).priceHistory.map((p) => p.price)).toEqual([120, 95, 100]);
  });

  test('a bulk upsert refusing one currency writes nothing', async () => {
    const { starter } = fakeStarter();
    const catalog = new CatalogService({ db, starter, logger: pino({ level: 'silent' }) });
    await catalog.put('sku-3', shoe(10));
    await expect(
      catalog.bulk([
        { id: 'sku-4', ...shoe(5) },
        { id: 'sku-3', ...shoe(10), currency: 'EUR' },
      ]),
    ).rejects.toMatchObject({ details: [{ path: 'items.1.currency' }] });
    await expect(catalog.get('sku-4')).rejects.toMatchObject({ name: 'NotFoundError' });
  });

  test('the fan-out pages through the audience; entering the same drop again starts nothing twice', async () => {
    const logger = pino({ level: 'silent' });
    const runs: FlowRunInput[] = [];
    const runStarter = {
      flowRun: (input: FlowRunInput) => {
        if (runs.some((r) => r.runId === input.runId))
          return Promise.reject(new WorkflowExecutionAlreadyStartedError('started', input.runId, 'flowRun'));
        runs.push(input);
        return Promise.resolve({});
      },
    } as unknown as RunStarter;
    const entries = new FlowEntries({ db, starter: runStarter, config: loadConfig({}), logger });
    const at = new Date().toISOString();
    for (let i = 0; i < 5; i++) {
      const id = `prf_${i}`;
      await db
        .insertInto('profiles')
        .values({
          id,
          email: `p${i}@example.com`,
          phone_number: null,
          external_id: null,
          data: JSON.stringify({ email: `p${i}@example.com` }),
          created_at: at,
          updated_at: at,
        })
        .execute();
      await db
        .insertInto('events')
        .values({
          id: `evt_${i}`,
          metric: 'Viewed Product',
          profile_id: id,
          profile: '{}',
          properties: JSON.stringify({ ProductID: 'sku-5' }),
          unique_id: null,
          time: at,
          received_at: at,
        })
        .execute();
    }
    const { starter } = fakeStarter();
    const catalog = new CatalogService({ db, starter, logger });
    await catalog.put('sku-5', shoe(50));
    const drop = (await catalog.put('sku-5', shoe(40))).drop!;
    const fanOut = new PriceDropFanOut({ db, entries, logger, pageSize: 2 });
    const input = { dropId: drop.id, flowId: 'flw_drop' };
    const pages = [];
    for (let page = await fanOut.fanOutPage(input); ; page = await fanOut.fanOutPage(input)) {
      pages.push(page);
      if (page.done) break;
    }
    expect(pages.map((p) => p.processed)).toEqual([2, 2, 1]);
    expect(runs.map((r) => r.profileId).sort()).toEqual(['prf_0', 'prf_1', 'prf_2', 'prf_3', 'prf_4']);
    expect(runs[0]!.context.event).toMatchObject({
      price: 40,
      previous_price: 50,
      drop_percent: 20,
      currency: 'USD',
    });
    expect((await catalog.drop(drop.id)).fanouts[0]).toMatchObject({
      status: 'done',
      candidates: 5,
      processed: 5,
      started: 5,
    });
    // A fan-out run again from the start (a lost cursor) enters nobody twice.
    await db.updateTable('price_drop_fanouts').set({ status: 'running', cursor: null }).execute();
    while (!(await fanOut.fanOutPage(input)).done);
    expect(runs).toHaveLength(5);
  });
});
