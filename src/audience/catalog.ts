import crypto from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { z } from 'zod';
import type { Db } from '../db';
import type { CatalogItemRow, FanoutRow, PriceDropRow } from '../db/catalog-store';
import { CatalogStore } from '../db/catalog-store';
import { ProfileStore } from '../db/profile-store';
import { NotFoundError, ValidationError } from '../errors';
import type { Flow, PriceDropTrigger } from '../flows/model';
import type { AudienceEvent } from '../flows/price-drop';
import { PRICE_DROP_METRICS, inDropAudience, meetsThreshold, priceDropEvent } from '../flows/price-drop';
import { FlowStore } from '../flows/store';
import type { Logger } from '../logger';
import type { FanOutPageResult, PriceDropFanOutInput } from '../shared/run-types';
import type { RunStarter } from '../temporal/run-starter';
import { buildContext } from '../templates/context';
import type { FlowEntries } from './entries';
import { entryRunId } from './entries';
import type { PendingEntry } from './entry-queue';

/** How many items one bulk upsert may carry. */
export const MAX_ITEMS_PER_CALL = 1000;
/** Profiles read per fan-out page (one activity, one transaction). */
export const FANOUT_PAGE_SIZE = 500;
/** The sweep leaves fan-outs this recent to the request that recorded them. */
const SWEEP_GRACE_MS = 10_000;

const itemShape = {
  title: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(500),
  url: z.url({ error: 'must be an absolute URL' }).max(2048).nullish(),
  imageUrl: z.url({ error: 'must be an absolute URL' }).max(2048).nullish(),
  price: z
    .number({ error: 'is required and must be a number' })
    .finite()
    .min(0, 'must not be negative')
    .max(1e12),
  currency: z
    .string({ error: 'is required: an ISO 4217 code such as "USD"' })
    .regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code of three letters, such as "USD"')
    .transform((c) => c.toUpperCase()),
  inStock: z.boolean({ error: 'must be true or false' }).default(true),
};
export const itemSchema = z.strictObject(itemShape);
export type ItemInput = z.infer<typeof itemSchema>;

const itemId = z.string().trim().min(1, 'must not be empty').max(200);
export const bulkItemsSchema = z.strictObject({
  items: z
    .array(z.strictObject({ id: itemId, ...itemShape }), { error: 'is required: an array of items' })
    .min(1, 'must not be empty')
    .max(MAX_ITEMS_PER_CALL, `at most ${MAX_ITEMS_PER_CALL} items per call`),
});

export const itemsPageSchema = z.strictObject({
  after: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export interface CatalogItem {
  id: string;
  title: string;
  url: string | null;
  imageUrl: string | null;
  price: number;
  currency: string;
  inStock: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface PutResult {
  item: CatalogItem;
  /** Set when this write lowered the price: the drop and the flows it fans out into. */
  drop?: { id: string; previousPrice: number; price: number; flows: string[] };
}

function toItem(r: CatalogItemRow): CatalogItem {
  return {
    id: r.id,
    title: r.title,
    url: r.url,
    imageUrl: r.image_url,
    price: r.price,
    currency: r.currency,
    inStock: r.in_stock === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toFanout(f: FanoutRow) {
  return {
    flowId: f.flow_id,
    flowVersion: f.flow_version,
    status: f.status,
    candidates: f.candidates,
    processed: f.processed,
    started: f.started,
    workflowStarted: f.workflow_started_at !== null,
    updatedAt: f.updated_at,
  };
}

export interface CatalogDeps {
  db: Db;
  starter: RunStarter;
  logger: Logger;
  now?: () => Date;
}

/**
 * The catalog: items and their price history. A write that lowers a price records the drop and,
 * for each live price-drop flow whose threshold it meets, a fan-out, in the same transaction;
 * the fan-out workflows start after commit (and by {@link CatalogService.sweep} if that fails),
 * so the request never waits on the audience.
 */
export class CatalogService {
  private readonly now: () => Date;
  private readonly starting = new Set<Promise<void>>();
  constructor(private readonly deps: CatalogDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async put(id: string, input: ItemInput): Promise<PutResult> {
    const [result] = await this.write([{ id, ...input }], '');
    return result!;
  }

  async bulk(
    items: readonly (ItemInput & { id: string })[],
  ): Promise<{ items: number; drops: PutResult['drop'][] }> {
    const ids = new Set<string>();
    items.forEach((it, i) => {
      if (ids.has(it.id))
        throw new ValidationError([{ path: `items.${i}.id`, message: `item ${it.id} appears twice` }]);
      ids.add(it.id);
    });
    const results = await this.write(items, 'items.');
    return { items: results.length, drops: results.flatMap((r) => (r.drop ? [r.drop] : [])) };
  }

  private async write(items: readonly (ItemInput & { id: string })[], prefix: string): Promise<PutResult[]> {
    const at = this.now().toISOString();
    const fanouts: PriceDropFanOutInput[] = [];
    const results = await this.deps.db.transaction().execute(async (trx) => {
      const store = new CatalogStore(trx);
      let flows: Flow[] | undefined;
      const out: PutResult[] = [];
      for (const [i, input] of items.entries()) {
        const before = await store.get(input.id);
        if (before && before.currency !== input.currency) {
          throw new ValidationError([
            {
              path: `${prefix}${prefix ? `${i}.` : ''}currency`,
              message: `item ${input.id} is priced in ${before.currency}: a price in ${input.currency} would make its history incomparable (delete the item to change its currency)`,
            },
          ]);
        }
        const row: CatalogItemRow = {
          id: input.id,
          title: input.title,
          url: input.url ?? null,
          image_url: input.imageUrl ?? null,
          price: input.price,
          currency: input.currency,
          in_stock: input.inStock ? 1 : 0,
          created_at: before?.created_at ?? at,
          updated_at: at,
        };
        await store.upsert(row);
        const result: PutResult = { item: toItem(row) };
        out.push(result);
        if (before?.price === input.price) continue;
        await store.addPrice(input.id, input.price, input.currency, at);
        if (!before || input.price >= before.price) continue;
        const drop: PriceDropRow = {
          id: `drp_${crypto.randomUUID()}`,
          item_id: input.id,
          previous_price: before.price,
          price: input.price,
          currency: input.currency,
          created_at: at,
        };
        await store.insertDrop(drop);
        flows ??= await new FlowStore(trx).liveByType('price_drop');
        const change = { previous: before.price, price: input.price };
        const into = flows.filter((f) => meetsThreshold((f.trigger as PriceDropTrigger).threshold, change));
        for (const f of into) {
          await store.insertFanout({
            drop_id: drop.id,
            flow_id: f.id,
            flow_version: f.version,
            status: 'recorded',
            cursor: null,
            candidates: 0,
            processed: 0,
            started: 0,
            workflow_started_at: null,
            created_at: at,
            updated_at: at,
          });
          fanouts.push({ dropId: drop.id, flowId: f.id });
        }
        result.drop = {
          id: drop.id,
          previousPrice: before.price,
          price: input.price,
          flows: into.map((f) => f.id),
        };
      }
      return out;
    });
    // Recorded first, started after commit without the caller waiting for Temporal: a failed start
    // is left to the sweep.
    if (fanouts.length > 0) {
      const starting = this.startFanOuts(fanouts)
        .catch((err: unknown) =>
          this.deps.logger.warn(
            { err, fanouts: fanouts.length },
            'price-drop fan-outs not started; the sweep retries',
          ),
        )
        .finally(() => this.starting.delete(starting));
      this.starting.add(starting);
    }
    return results;
  }

  /** Waits for the fan-out starts still in flight (a stopping API, before the database closes). */
  async settle(): Promise<void> {
    await Promise.all([...this.starting]);
  }

  private async startFanOuts(fanouts: readonly PriceDropFanOutInput[]): Promise<void> {
    const store = new CatalogStore(this.deps.db);
    for (const f of fanouts) {
      try {
        await this.deps.starter.priceDropFanOut(f);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      await store.markWorkflowStarted(f.dropId, f.flowId, this.now().toISOString());
    }
  }

  /** Starts the fan-outs recorded but never confirmed started; returns how many. */
  async sweep(now = this.now().getTime()): Promise<number> {
    const rows = await new CatalogStore(this.deps.db).unstartedFanouts(
      new Date(now - SWEEP_GRACE_MS).toISOString(),
      100,
    );
    await this.startFanOuts(rows.map((r) => ({ dropId: r.drop_id, flowId: r.flow_id })));
    return rows.length;
  }

  async get(
    id: string,
  ): Promise<CatalogItem & { priceHistory: { price: number; currency: string; changedAt: string }[] }> {
    const store = new CatalogStore(this.deps.db);
    const row = await store.get(id);
    if (!row) throw new NotFoundError(`catalog item ${id}`);
    return { ...toItem(row), priceHistory: await store.priceHistory(id) };
  }

  async list(page: z.infer<typeof itemsPageSchema>): Promise<{ items: CatalogItem[]; next: string | null }> {
    const rows = await new CatalogStore(this.deps.db).page(page.after, page.limit);
    return { items: rows.map(toItem), next: rows.length === page.limit ? rows[rows.length - 1]!.id : null };
  }

  async delete(id: string): Promise<void> {
    if (!(await new CatalogStore(this.deps.db).delete(id))) throw new NotFoundError(`catalog item ${id}`);
  }

  /** A drop and, per flow, how far its fan-out has come (`started` of `candidates`). */
  async drop(id: string) {
    const store = new CatalogStore(this.deps.db);
    const drop = await store.getDrop(id);
    if (!drop) throw new NotFoundError(`price drop ${id}`);
    return {
      id: drop.id,
      itemId: drop.item_id,
      previousPrice: drop.previous_price,
      price: drop.price,
      currency: drop.currency,
      createdAt: drop.created_at,
      fanouts: (await store.fanouts(id)).map(toFanout),
    };
  }
}

/**
 * Enters a drop's audience into a flow a page at a time: the work of the fan-out workflow's
 * activity, in the worker. Each page commits its entries, runs and cursor together.
 */
export class PriceDropFanOut {
  private readonly flows: FlowStore;
  constructor(
    private readonly deps: {
      db: Db;
      entries: FlowEntries;
      logger: Logger;
      pageSize?: number;
      now?: () => Date;
    },
  ) {
    this.flows = new FlowStore(deps.db);
  }

  async fanOutPage(input: PriceDropFanOutInput): Promise<FanOutPageResult> {
    const { db } = this.deps;
    const pageSize = this.deps.pageSize ?? FANOUT_PAGE_SIZE;
    const store = new CatalogStore(db);
    const fanout = await store.fanout(input.dropId, input.flowId);
    const drop = await store.getDrop(input.dropId);
    if (!fanout || !drop || fanout.status === 'done' || fanout.status === 'stopped_out_of_stock')
      return { done: true, processed: 0, started: 0 };
    const def = await this.flows.getVersion(input.flowId, fanout.flow_version);
    const item = await store.get(drop.item_id);
    const at = (this.deps.now?.() ?? new Date()).toISOString();
    // Only while the item is in stock (and still in the catalog): checked before every page.
    if (!def || !item || item.in_stock !== 1) {
      await store.updateFanout(input.dropId, input.flowId, {
        status: 'stopped_out_of_stock',
        updated_at: at,
      });
      return { done: true, processed: 0, started: 0 };
    }
    const flow: Flow = {
      ...def,
      id: input.flowId,
      version: fanout.flow_version,
      createdAt: at,
      updatedAt: at,
    };
    const trigger = flow.trigger as PriceDropTrigger;
    const since = new Date(Date.parse(drop.created_at) - trigger.lookbackDays * 86_400_000).toISOString();
    const metrics = trigger.audience.map((a) => PRICE_DROP_METRICS[a]);
    if (fanout.cursor === null && fanout.processed === 0) {
      fanout.candidates = await store.countCandidates(metrics, drop.item_id, since);
    }
    const ids = await store.candidateProfiles(metrics, drop.item_id, since, fanout.cursor, pageSize);
    const events = await store.audienceEvents(
      ids,
      [...metrics, PRICE_DROP_METRICS.placed_order],
      drop.item_id,
    );
    const byProfile = new Map<string, AudienceEvent[]>();
    for (const e of events) {
      const list = byProfile.get(e.profile_id) ?? [];
      list.push({
        metric: e.metric,
        time: e.time,
        properties: JSON.parse(e.properties) as Record<string, unknown>,
      });
      byProfile.set(e.profile_id, list);
    }
    const qualified = ids.filter((p) => inDropAudience(trigger, drop.item_id, byProfile.get(p) ?? [], since));
    const event = priceDropEvent(
      { id: item.id, title: item.title, url: item.url, imageUrl: item.image_url },
      { previous: drop.previous_price, price: drop.price },
      drop.currency,
    );
    const done = ids.length < pageSize;
    const pending = await db.transaction().execute(async (trx) => {
      const out: PendingEntry[] = [];
      const profiles = new ProfileStore(trx);
      for (const profileId of qualified) {
        const profile = await profiles.get(profileId);
        if (!profile) continue;
        const context = buildContext(profile.data, event, profileId);
        const runId = entryRunId(flow.id, profileId, drop.id);
        const entry = await this.deps.entries.enter(trx, flow, profileId, drop.id, at, context, null, runId);
        if (entry) out.push(entry);
      }
      await new CatalogStore(trx).updateFanout(input.dropId, input.flowId, {
        status: done ? 'done' : 'running',
        cursor: ids.length > 0 ? ids[ids.length - 1]! : fanout.cursor,
        candidates: fanout.candidates,
        processed: fanout.processed + ids.length,
        started: fanout.started + out.length,
        updated_at: at,
      });
      return out;
    });
    // After commit; a crash here leaves recorded runs to the runs sweep.
    await this.deps.entries.start(pending);
    return { done, processed: ids.length, started: pending.length };
  }
}
