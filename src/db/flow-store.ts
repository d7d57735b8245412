import type { Flow, FlowDefinition } from '../flows/model';
import type { NewAuditEntry } from './audit-store';
import { writeAudit } from './audit-store';
import type { Db } from './index';

/** Flows and their versions. A flow row points at its current version; versions are never rewritten. */
export class FlowStore {
  constructor(private readonly db: Db) {}

  /** `audit` entries are written in the same transaction. */
  async insert(flow: Flow, audit: readonly NewAuditEntry[] = []): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('flows')
        .values({
          id: flow.id,
          name: flow.name,
          status: flow.status,
          trigger_type: flow.trigger.type,
          trigger_metric: flow.trigger.metric,
          version: flow.version,
          created_at: flow.createdAt,
          updated_at: flow.updatedAt,
        })
        .execute();
      await trx
        .insertInto('flow_versions')
        .values({
          flow_id: flow.id,
          version: flow.version,
          definition: JSON.stringify(definitionOf(flow)),
          created_at: flow.updatedAt,
        })
        .execute();
      await writeAudit(trx, audit);
    });
  }

  /** Saves `flow` as the version after `expectedVersion`; false when someone else saved first. */
  async update(flow: Flow, expectedVersion: number, audit: readonly NewAuditEntry[] = []): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('flows')
        .set({
          name: flow.name,
          status: flow.status,
          trigger_type: flow.trigger.type,
          trigger_metric: flow.trigger.metric,
          version: flow.version,
          updated_at: flow.updatedAt,
        })
        .where('id', '=', flow.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      await trx
        .insertInto('flow_versions')
        .values({
          flow_id: flow.id,
          version: flow.version,
          definition: JSON.stringify(definitionOf(flow)),
          created_at: flow.updatedAt,
        })
        .execute();
      await writeAudit(trx, audit);
      return true;
    });
  }

  async get(id: string): Promise<Flow | undefined> {
    const row = await this.baseQuery().where('f.id', '=', id).executeTakeFirst();
    return row && toFlow(row);
  }

  async list(): Promise<Flow[]> {
    const rows = await this.baseQuery().orderBy('f.created_at', 'desc').orderBy('f.id').execute();
    return rows.map(toFlow);
  }

  async liveByMetric(metric: string): Promise<Flow[]> {
    const rows = await this.baseQuery()
      .where('f.status', '=', 'live')
      .where('f.trigger_type', '=', 'metric')
      .where('f.trigger_metric', '=', metric)
      .orderBy('f.created_at')
      .execute();
    return rows.map(toFlow);
  }

  /** Deletes the flow; its versions stay so runs in flight can finish. */
  async delete(id: string, expectedVersion: number, audit: readonly NewAuditEntry[] = []): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .deleteFrom('flows')
        .where('id', '=', id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      if (Number(res.numDeletedRows) !== 1) return false;
      await writeAudit(trx, audit);
      return true;
    });
  }

  async getVersion(flowId: string, version: number): Promise<FlowDefinition | undefined> {
    const row = await this.db
      .selectFrom('flow_versions')
      .select('definition')
      .where('flow_id', '=', flowId)
      .where('version', '=', version)
      .executeTakeFirst();
    return row && (JSON.parse(row.definition) as FlowDefinition);
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

function definitionOf(flow: Flow): FlowDefinition {
  return { name: flow.name, status: flow.status, trigger: flow.trigger, steps: flow.steps };
}

function toFlow(row: {
  id: string;
  version: number;
  created_at: string;
  updated_at: string;
  definition: string;
}): Flow {
  const def = JSON.parse(row.definition) as FlowDefinition;
  return { id: row.id, ...def, version: row.version, createdAt: row.created_at, updatedAt: row.updated_at };
}
