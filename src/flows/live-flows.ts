import type { Db } from '../db';
import type { StoredFlow } from '../db/flow-store';
import { Lru } from '../lru';
import type { FlowDefinition } from './model';
import { FlowStore } from './store';

type Flow = StoredFlow<FlowDefinition>;

/** Metrics and trigger types remembered at most; beyond it the least recently used is read again. */
const REMEMBERED = 1000;

export interface LiveFlowsOptions {
  /**
   * How long a list of live flows is reused, in ms (0: read at every call). A flow saved, paused or
   * deleted through hookflow, by any process, is seen at the next call; the bound only covers rows
   * changed by hand outside hookflow. @default 0
   */
  ttlMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * The live flows an event's metric triggers, and those of a trigger type, as every event asks for
 * them: read from the database at most once per `ttlMs`, and again as soon as the count of flow
 * changes (one primary-key read, in the caller's transaction) moved: a flow saved or deleted by
 * any API process counts for the next event. The lists are shared: callers must not change them.
 */
export class LiveFlows {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly lists = new Lru<string, { flows: readonly Flow[]; until: number; changes: number }>(
    REMEMBERED,
  );

  constructor(opts: LiveFlowsOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  /** Live flows triggered by `metric`, oldest first; a miss is read through `db` (a transaction, say). */
  byMetric(db: Db, metric: string): Promise<readonly Flow[]> {
    return this.remembered(db, `metric\0${metric}`, (store) => store.liveByMetric(metric));
  }

  /** Live flows of a trigger type that names no list or segment (`date`, `price_drop`), oldest first. */
  byType(db: Db, type: string): Promise<readonly Flow[]> {
    return this.remembered(db, `type\0${type}`, (store) => store.liveByType(type));
  }

  private async remembered(
    db: Db,
    key: string,
    read: (store: FlowStore) => Promise<Flow[]>,
  ): Promise<readonly Flow[]> {
    const store = new FlowStore(db);
    if (this.ttlMs <= 0) return read(store);
    // Read in the caller's transaction with the flows: the count and the list agree.
    const changes = await store.changeCount();
    const hit = this.lists.get(key);
    if (hit && hit.changes === changes && hit.until > this.now()) return hit.flows;
    const flows = await read(store);
    this.lists.set(key, { flows, until: this.now() + this.ttlMs, changes });
    return flows;
  }
}
