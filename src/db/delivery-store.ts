import type { Db } from './index';
import type { AttemptClass, DeliveriesTable, DeliveryStatus } from './schema';

export interface AttemptRecord {
  deliveryId: string;
  runId: string;
  flowId: string;
  flowVersion: number;
  stepId: string;
  profileId: string;
  attempt: number;
  manual: boolean;
  startedAt: string;
  durationMs: number;
  httpStatus: number | null;
  errorClass: string | null;
  outcome: AttemptClass;
  reason: string;
  responseExcerpt: string | null;
  /** The delivery's status after this attempt. */
  status: DeliveryStatus;
  nextAttemptAt: string | null;
}

export type DeliveryRow = DeliveriesTable;

/** Deliveries (one webhook step of one run) and their attempts. */
export class DeliveryStore {
  constructor(private readonly db: Db) {}

  /**
   * Records one attempt and the delivery's state after it. Idempotent: the attempt row is unique
   * per (delivery, manual, number), and a repeated attempt leaves the delivery as it was.
   */
  async recordAttempt(a: AttemptRecord): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('delivery_attempts')
        .values({
          delivery_id: a.deliveryId,
          attempt: a.attempt,
          manual: a.manual ? 1 : 0,
          started_at: a.startedAt,
          duration_ms: a.durationMs,
          http_status: a.httpStatus,
          error_class: a.errorClass,
          outcome: a.outcome,
          reason: a.reason,
          response_excerpt: a.responseExcerpt,
        })
        .onConflict((oc) => oc.columns(['delivery_id', 'manual', 'attempt']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return;
      const state = {
        status: a.status,
        attempts: a.attempt,
        last_attempt_at: a.startedAt,
        next_attempt_at: a.nextAttemptAt,
        last_http_status: a.httpStatus,
        reason: a.reason,
        latency_ms: a.outcome === 'delivered' ? a.durationMs : null,
        updated_at: now,
      };
      await trx
        .insertInto('deliveries')
        .values({
          id: a.deliveryId,
          run_id: a.runId,
          flow_id: a.flowId,
          flow_version: a.flowVersion,
          step_id: a.stepId,
          profile_id: a.profileId,
          first_attempt_at: a.startedAt,
          created_at: now,
          ...state,
        })
        .onConflict((oc) =>
          oc.column('id').doUpdateSet({
            ...state,
            // An out-of-order older attempt never lowers the count.
            attempts: (eb) =>
              eb
                .case()
                .when(eb.ref('deliveries.attempts'), '>', a.attempt)
                .then(eb.ref('deliveries.attempts'))
                .else(a.attempt)
                .end(),
          }),
        )
        .execute();
    });
  }

  async forRun(runId: string): Promise<DeliveryRow[]> {
    return this.db.selectFrom('deliveries').selectAll().where('run_id', '=', runId).execute();
  }
}
