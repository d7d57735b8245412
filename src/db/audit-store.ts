import type { Insertable, Transaction } from 'kysely';
import type { Db } from './index';
import type { AuditLogTable, Database } from './schema';

export type NewAuditEntry = Omit<Insertable<AuditLogTable>, 'id'>;

export interface AuditEntry {
  id: number;
  at: string;
  user: { id: string; email: string | null };
  apiKeyId: string | null;
  action: string;
  flowId: string | null;
  stepId: string | null;
  fields: string[];
}

/** Written in the same transaction as the change it records, so neither exists without the other. */
export async function writeAudit(
  trx: Transaction<Database>,
  entries: readonly NewAuditEntry[],
): Promise<void> {
  if (entries.length)
    await trx
      .insertInto('audit_log')
      .values([...entries])
      .execute();
}

/** The audit log of webhook changes, newest first, paged by id. */
export class AuditStore {
  constructor(private readonly db: Db) {}

  async list(q: { flowId?: string; before?: number; limit: number }): Promise<{
    entries: AuditEntry[];
    nextBefore: number | null;
  }> {
    let query = this.db
      .selectFrom('audit_log as a')
      .leftJoin('users as u', 'u.id', 'a.user_id')
      .select([
        'a.id',
        'a.at',
        'a.user_id',
        'u.email',
        'a.api_key_id',
        'a.action',
        'a.flow_id',
        'a.step_id',
        'a.fields',
      ])
      .orderBy('a.id', 'desc')
      .limit(q.limit + 1);
    if (q.flowId !== undefined) query = query.where('a.flow_id', '=', q.flowId);
    if (q.before !== undefined) query = query.where('a.id', '<', q.before);
    const rows = await query.execute();
    const page = rows.slice(0, q.limit);
    return {
      entries: page.map((r) => ({
        id: r.id,
        at: r.at,
        user: { id: r.user_id, email: r.email },
        apiKeyId: r.api_key_id,
        action: r.action,
        flowId: r.flow_id,
        stepId: r.step_id,
        fields: JSON.parse(r.fields) as string[],
      })),
      nextBefore: rows.length > q.limit ? page[page.length - 1]!.id : null,
    };
  }
}
