import type { Db } from '../db';
import type { StoredFlow } from '../db/flow-store';
import { flowWritesInProcess } from '../db/flow-store';
import { Lru } from '../lru';
import type { FlowDefinition } from './model';
import { FlowStore } from './store';

type Flow = StoredFlow<FlowDefinition>;

/** Metrics and trigger types remembered at most; beyond it the least recently used is read again. */
const REMEMBERED = 1000;

export interface LiveFlowsOptions {
  /**
   * How long a list of live flows is reused, in ms (0: read at every call). A flow saved, paused or
   * deleted in this process is seen at the next call; one changed by another API process within
   * this bound. @default 0
   */
  ttlMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * The live flows an event's metric triggers, and those of a trigger type, as every event asks for
 * them: read from the database at most once per `ttlMs`, and again at once after this process saved
 * or deleted a flow. The lists are shared: callers must not change them.
 */
export class LiveFlows {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly lists = new Lru<string, { flows: readonly Flow[]; until: number; writes: number }>(
    REMEMBERED,
  );

  constructor(opts: LiveFlowsOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  /** Live flows triggered by `metric`, oldest first; a miss is read through `db` (a transaction, say). */
  byMetric(db: Db, metric: string): Promise<readonly Flow[]> {
    return this.remembered(`metric\0${metric}`, () => new FlowStore(db).liveByMetric(metric));
  }

  /** Live flows of a trigger type that names no list or segment (`date`, `price_drop`), oldest first. */
  byType(db: Db, type: string): Promise<readonly Flow[]> {
    return this.remembered(`type\0${type}`, () => new FlowStore(db).liveByType(type));
  }

  private async remembered(key: string, read: () => Promise<Flow[]>): Promise<readonly Flow[]> {
    if (this.ttlMs <= 0) return read();
    const writes = flowWritesInProcess();
    const hit = this.lists.get(key);
    if (hit && hit.writes === writes && hit.until > this.now()) return hit.flows;
    // The count is taken before the read: a save committed during it makes the next call read again.
    const flows = await read();
    this.lists.set(key, { flows, until: this.now() + this.ttlMs, writes });
    return flows;
  }
}
