import type { Transaction } from 'kysely';
import type { NewAuditEntry } from './audit-store';
import { writeAudit } from './audit-store';
import type { Db } from './index';
import type { Database, FlowStatus } from './schema';

/**
 * What the store reads of a flow definition to fill the `flows` columns; the whole definition is
 * kept as JSON. The flow model itself (`src/flows/model.ts`) sits above the database, so the store
 * is generic over it rather than importing it.
 */
export interface StoredDefinition {
  name: string;
  status: FlowStatus;
  trigger: { type: string; metric?: string; listId?: string; segmentId?: string };
  steps: readonly unknown[];
  /** Absent on flows saved before re-entry existed: the trigger's default applies. */
  reentry?: unknown;
  flowFilters?: unknown;
  triggerFilters?: unknown;
}

/** A definition with the flow row's identity and timestamps. */
export type StoredFlow<D extends StoredDefinition> = D & {
  id: string;
  version: number;
  createdAt: string;
  updatedAt: string;
};

/** Who saved a version: the user, and the API key they used (null for a signed-in session). */
export interface SavedBy {
  userId: string;
  apiKeyId: string | null;
}

/** A flow as the flow list shows it: who saved its current version, what its trigger's list or segment is called. */
export interface FlowOverview<D extends StoredDefinition> {
  flow: StoredFlow<D>;
  /** Null for versions saved before saving recorded it. `email` is null for a removed user. */
  savedBy: { userId: string; email: string | null; apiKeyId: string | null } | null;
  /** The list's or segment's name for list and segment triggers (null when it is gone). */
  triggerRefName: string | null;
}

/**
 * Counts a flow save or deletion in `trx` (migration 0014): caches of flows compare it with the
 * count they read (src/flows/live-flows.ts). Bumped in the writing transaction, so a reader sees
 * the new count exactly when it sees the change.
 */
async function countChange(trx: Transaction<Database>): Promise<void> {
  await trx
    .updateTable('flow_changes')
    .set((eb) => ({ n: eb('n', '+', 1) }))
    .where('id', '=', 1)
    .execute();
}

/** Flows and their versions. A flow row points at its current version; versions are never rewritten. */
export class FlowStore<D extends StoredDefinition> {
  constructor(private readonly db: Db) {}

  /** `audit` entries are written in the same transaction. */
  async insert(
    flow: StoredFlow<D>,
    audit: readonly NewAuditEntry[] = [],
    savedBy: SavedBy | null = null,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('flows')
        .values({
          id: flow.id,
          name: flow.name,
          status: flow.status,
          trigger_type: flow.trigger.type,
          trigger_metric: flow.trigger.metric ?? null,
          trigger_ref: triggerRef(flow),
          version: flow.version,
          created_at: flow.createdAt,
          updated_at: flow.updatedAt,
        })
        .execute();
      await insertVersion(trx, flow, savedBy);
      await writeAudit(trx, audit);
      await countChange(trx);
    });
  }

  /** Saves `flow` as the version after `expectedVersion`; false when someone else saved first. */
  async update(
    flow: StoredFlow<D>,
    expectedVersion: number,
    audit: readonly NewAuditEntry[] = [],
    savedBy: SavedBy | null = null,
  ): Promise<boolean> {
    const saved = await this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('flows')
        .set({
          name: flow.name,
          status: flow.status,
          trigger_type: flow.trigger.type,
          trigger_metric: flow.trigger.metric ?? null,
          trigger_ref: triggerRef(flow),
          version: flow.version,
          updated_at: flow.updatedAt,
        })
        .where('id', '=', flow.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      await insertVersion(trx, flow, savedBy);
      await writeAudit(trx, audit);
      await countChange(trx);
      return true;
    });
    return saved;
  }

  /** Flow saves and deletions so far, by any process (see {@link countChange}). */
  async changeCount(): Promise<number> {
    const row = await this.db.selectFrom('flow_changes').select('n').where('id', '=', 1).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async get(id: string): Promise<StoredFlow<D> | undefined> {
    const row = await this.baseQuery().where('f.id', '=', id).executeTakeFirst();
    return row && toFlow<D>(row);
  }

  async list(): Promise<StoredFlow<D>[]> {
    const rows = await this.baseQuery().orderBy('f.created_at', 'desc').orderBy('f.id').execute();
    return rows.map((r) => toFlow<D>(r));
  }

  /**
   * Every flow, newest first, with who saved its current version and the name of the list or
   * segment its trigger names: one query, for the flow list.
   */
  async listOverview(): Promise<FlowOverview<D>[]> {
    const rows = await this.baseQuery()
      .leftJoin('users as u', 'u.id', 'v.saved_by_user')
      .leftJoin('lists as l', (j) => j.onRef('l.id', '=', 'f.trigger_ref').on('f.trigger_type', '=', 'list'))
      .leftJoin('segments as s', (j) =>
        j.onRef('s.id', '=', 'f.trigger_ref').on('f.trigger_type', '=', 'segment'),
      )
      .select([
        'v.saved_by_user',
        'v.saved_by_key',
        'u.email as saved_by_email',
        'l.name as list_name',
        's.name as segment_name',
      ])
      .orderBy('f.created_at', 'desc')
      .orderBy('f.id')
      .execute();
    return rows.map((r) => ({
      flow: toFlow<D>(r),
      savedBy: r.saved_by_user
        ? { userId: r.saved_by_user, email: r.saved_by_email, apiKeyId: r.saved_by_key }
        : null,
      triggerRefName: r.list_name ?? r.segment_name ?? null,
    }));
  }

  async liveByMetric(metric: string): Promise<StoredFlow<D>[]> {
    const rows = await this.baseQuery()
      .where('f.status', '=', 'live')
      .where('f.trigger_type', '=', 'metric')
      .where('f.trigger_metric', '=', metric)
      .orderBy('f.created_at')
      .execute();
    return rows.map((r) => toFlow<D>(r));
  }

  /** Live flows of a trigger type that names no list or segment (`date`, `price_drop`), oldest first. */
  async liveByType(type: string): Promise<StoredFlow<D>[]> {
    const rows = await this.baseQuery()
      .where('f.status', '=', 'live')
      .where('f.trigger_type', '=', type)
      .orderBy('f.created_at')
      .execute();
    return rows.map((r) => toFlow<D>(r));
  }

  /** Live flows triggered by joining list `ref` (`type` 'list') or entering segment `ref` ('segment'). */
  async liveByRef(type: 'list' | 'segment', ref: string): Promise<StoredFlow<D>[]> {
    return this.byRef(type, ref, true);
  }

  /** Ids of every flow (live or not) whose trigger names list or segment `ref`. */
  async idsByRef(type: 'list' | 'segment', ref: string): Promise<string[]> {
    return (await this.byRef(type, ref, false)).map((f) => f.id);
  }

  private async byRef(type: 'list' | 'segment', ref: string, liveOnly: boolean): Promise<StoredFlow<D>[]> {
    let q = this.baseQuery().where('f.trigger_type', '=', type).where('f.trigger_ref', '=', ref);
    if (liveOnly) q = q.where('f.status', '=', 'live');
    const rows = await q.orderBy('f.created_at').execute();
    return rows.map((r) => toFlow<D>(r));
  }

  /** Deletes the flow; its versions stay so runs in flight can finish. */
  async delete(id: string, expectedVersion: number, audit: readonly NewAuditEntry[] = []): Promise<boolean> {
    const deleted = await this.db.transaction().execute(async (trx) => {
      const res = await trx
        .deleteFrom('flows')
        .where('id', '=', id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      if (Number(res.numDeletedRows) !== 1) return false;
      await writeAudit(trx, audit);
      await countChange(trx);
      return true;
    });
    return deleted;
  }

  async getVersion(flowId: string, version: number): Promise<D | undefined> {
    const row = await this.db
      .selectFrom('flow_versions')
      .select('definition')
      .where('flow_id', '=', flowId)
      .where('version', '=', version)
      .executeTakeFirst();
    return row && (JSON.parse(row.definition) as D);
  }

  private baseQuery() {
    return this.db
      .selectFrom('flows as f')
      .innerJoin('flow_versions as v', (j) =>
        j.onRef('v.flow_id', '=', 'f.id').onRef('v.version', '=', 'f.version'),
      )
      .select(['f.id', 'f.version', 'f.created_at', 'f.updated_at', 'v.definition']);
  }
}

async function insertVersion(
  trx: Transaction<Database>,
  flow: StoredFlow<StoredDefinition>,
  savedBy: SavedBy | null,
): Promise<void> {
  await trx
    .insertInto('flow_versions')
    .values({
      flow_id: flow.id,
      version: flow.version,
      definition: JSON.stringify(definitionOf(flow)),
      created_at: flow.updatedAt,
      saved_by_user: savedBy?.userId ?? null,
      saved_by_key: savedBy?.apiKeyId ?? null,
    })
    .execute();
}

function definitionOf(flow: StoredDefinition): StoredDefinition {
  const def: StoredDefinition = {
    name: flow.name,
    status: flow.status,
    trigger: flow.trigger,
    steps: flow.steps,
  };
  if (flow.reentry !== undefined) def.reentry = flow.reentry;
  if (flow.flowFilters !== undefined) def.flowFilters = flow.flowFilters;
  if (flow.triggerFilters !== undefined) def.triggerFilters = flow.triggerFilters;
  return def;
}

function triggerRef(flow: StoredDefinition): string | null {
  return flow.trigger.listId ?? flow.trigger.segmentId ?? null;
}

function toFlow<D extends StoredDefinition>(row: {
  id: string;
  version: number;
  created_at: string;
  updated_at: string;
  definition: string;
}): StoredFlow<D> {
  const def = JSON.parse(row.definition) as D;
  return { id: row.id, ...def, version: row.version, createdAt: row.created_at, updatedAt: row.updated_at };
}
