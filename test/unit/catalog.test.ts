import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import pino from 'pino';
import { CatalogService } from '../../src/audience/catalog';
import type { Db } from '../../src/db';
import { openDatabase } from '../../src/db';
import { FlowStore } from '../../src/flows/store';
import type { PriceDropFanOutInput } from '../../src/shared/run-types';
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

let db: Db;
beforeEach(async () => {
  db = await openDatabase(':memory:');
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
