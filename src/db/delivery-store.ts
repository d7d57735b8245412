import type { Transaction } from 'kysely';
import { sql } from 'kysely';
import { dayOf, hourOf, latencyBucket } from './buckets';
import { lockForTransaction } from './dialect';
import type { Db } from './index';
import type { AttemptClass, Database, DeliveriesTable, DeliveryStatus, Grain } from './schema';

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
  /** JSON of the template context, stored with the delivery's first record for resends. */
  context: string | null;
  resendOf: string | null;
}

export type DeliveryRow = DeliveriesTable;

/** An attempt about to send its request: what its write-ahead row knows before the answer. */
export type AttemptStart = Pick<AttemptRecord, 'deliveryId' | 'attempt' | 'manual' | 'startedAt'> & {
  /**
   * The number must be a new one: when it was begun before and never completed, answer
   * {@link BEGUN_BEFORE} instead of sending under it again. The first attempt's local activity sets
   * it: run again after its worker died mid-send, it starts over at attempt 1, and the request that
   * may have arrived must stay visible as an attempt of unknown outcome.
   */
  fresh?: boolean;
};

/** {@link DeliveryStore.beginAttempt}'s answer when a fresh attempt's number was begun before. */
export const BEGUN_BEFORE = 'begun_before';

/** An attempt already recorded with an outcome, found when the same attempt number starts again. */
export interface CompletedAttempt {
  outcome: AttemptClass;
  httpStatus: number | null;
  errorClass: string | null;
  reason: string;
  durationMs: number;
}

/** The reason an attempt row shows when its worker died between sending and recording. */
export const UNKNOWN_OUTCOME_REASON = 'outcome unknown — the endpoint may have received it';

type Trx = Transaction<Database>;

/** Deliveries (one webhook step of one run, or one resend) and their attempts. */
/**
 * Each change of a delivery reads its state, then writes it and moves its roll-up counts: workers
 * recording attempts, resends and finalizing take turns per delivery (on PostgreSQL; SQLite's
 * transactions take turns already).
 */
function holdDelivery(trx: Transaction<Database>, id: string): Promise<void> {
  return lockForTransaction(trx, `delivery:${id}`);
}

export class DeliveryStore {
  constructor(private readonly db: Db) {}

  /**
   * Writes an attempt's row before its request is sent (outcome `sending`), so a worker that dies
   * mid-send leaves a trace; {@link recordAttempt} completes it. Starting attempt N settles the
   * earlier attempts of the delivery still `sending` as `unknown`: their worker died before
   * recording an answer. Idempotent; the delivery row and its roll-ups are not touched. Returns
   * the attempt's recorded outcome when this attempt number already completed.
   */
  async beginAttempt(a: AttemptStart): Promise<CompletedAttempt | typeof BEGUN_BEFORE | undefined> {
    const manual = a.manual ? 1 : 0;
    const begin = async (db: Db | Trx): Promise<CompletedAttempt | typeof BEGUN_BEFORE | undefined> => {
      const inserted = await db
        .insertInto('delivery_attempts')
        .values({
          delivery_id: a.deliveryId,
          attempt: a.attempt,
          manual,
          started_at: a.startedAt,
          duration_ms: 0,
          http_status: null,
          error_class: null,
          outcome: 'sending',
          reason: 'request being sent',
          response_excerpt: null,
        })
        .onConflict((oc) => oc.columns(['delivery_id', 'manual', 'attempt']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return undefined;
      // This attempt number ran before (Temporal lost its completion, e.g. its server restarted
      // on older state): when that run recorded an outcome, the caller keeps it instead of sending again.
      const row = await db
        .selectFrom('delivery_attempts')
        .select(['outcome', 'http_status', 'error_class', 'reason', 'duration_ms'])
        .where('delivery_id', '=', a.deliveryId)
        .where('manual', '=', manual)
        .where('attempt', '=', a.attempt)
        .executeTakeFirst();
      if (!row) return undefined;
      if (row.outcome === 'sending' || row.outcome === 'unknown') return a.fresh ? BEGUN_BEFORE : undefined;
      return {
        outcome: row.outcome,
        httpStatus: row.http_status,
        errorClass: row.error_class,
        reason: row.reason,
        durationMs: row.duration_ms,
      };
    };
    // The first attempt has nothing before it: one insert.
    if (a.attempt <= 1) return begin(this.db);
    return this.db.transaction().execute(async (trx) => {
      await markUnknown(trx, a.deliveryId, manual, a.attempt);
      return begin(trx);
    });
  }

  /**
   * The attempts a delivery has used, as its next call must count them: the number of the last
   * attempt begun, less one when that attempt completed (run again, it returns its recorded outcome
   * rather than sending). 0 when none was begun. Read when a first attempt run again (its worker
   * died) hands the delivery to the regular activity without sending (see deliverFirstAttempt).
   */
  async attemptsUsed(deliveryId: string): Promise<number> {
    const last = await this.db
      .selectFrom('delivery_attempts')
      .select(['attempt', 'outcome'])
      .where('delivery_id', '=', deliveryId)
      .where('manual', '=', 0)
      .orderBy('attempt', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!last) return 0;
    return last.outcome === 'sending' || last.outcome === 'unknown' ? last.attempt : last.attempt - 1;
  }

  /**
   * Records one attempt and the delivery's state after it, and moves the delivery between the
   * hourly roll-ups. Completes the attempt's write-ahead row (`sending`, or `unknown` when a later
   * attempt started before this one answered). Idempotent: the attempt row is unique per
   * (delivery, manual, number), and a repeated attempt changes nothing.
   */
  async recordAttempt(a: AttemptRecord): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await holdDelivery(trx, a.deliveryId);
      const outcome = {
        started_at: a.startedAt,
        duration_ms: a.durationMs,
        http_status: a.httpStatus,
        error_class: a.errorClass,
        outcome: a.outcome,
        reason: a.reason,
        response_excerpt: a.responseExcerpt,
      };
      const written = await trx
        .insertInto('delivery_attempts')
        .values({ delivery_id: a.deliveryId, attempt: a.attempt, manual: a.manual ? 1 : 0, ...outcome })
        .onConflict((oc) =>
          oc
            .columns(['delivery_id', 'manual', 'attempt'])
            .doUpdateSet(outcome)
            .where('delivery_attempts.outcome', 'in', ['sending', 'unknown']),
        )
        .executeTakeFirst();
      if (Number(written.numInsertedOrUpdatedRows ?? 0) === 0) return;

      const prev = await trx
        .selectFrom('deliveries')
        .select(['status', 'attempts', 'created_at'])
        .where('id', '=', a.deliveryId)
        .executeTakeFirst();
      // An older attempt arriving late never moves the delivery backwards.
      if (prev && prev.attempts > a.attempt) return;
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
      const createdAt = prev?.created_at ?? now;
      if (prev) {
        await trx
          .updateTable('deliveries')
          .set({ ...state, first_attempt_at: sql<string>`coalesce(first_attempt_at, ${a.startedAt})` })
          .where('id', '=', a.deliveryId)
          .execute();
        await bumpRollup(trx, a.flowId, a.stepId, createdAt, prev.status, prev.attempts, -1);
      } else {
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
            created_at: createdAt,
            context: a.context,
            manual: a.manual ? 1 : 0,
            resend_of: a.resendOf,
            ...state,
          })
          .execute();
      }
      await bumpRollup(trx, a.flowId, a.stepId, createdAt, a.status, a.attempt, 1);
      if (a.status === 'delivered' && prev?.status !== 'delivered') {
        for (const [grain, period] of periods(createdAt)) {
          await trx
            .insertInto('latency_rollups')
            .values({
              grain,
              period,
              flow_id: a.flowId,
              step_id: a.stepId,
              bucket: latencyBucket(a.durationMs),
              count: 1,
            })
            .onConflict((oc) =>
              oc
                .columns(['grain', 'period', 'flow_id', 'step_id', 'bucket'])
                .doUpdateSet({ count: sql<number>`latency_rollups.count + 1` }),
            )
            .execute();
        }
      }
    });
  }

  /**
   * Records a webhook step that ended skipped before any request was sent (the run's profile is
   * no longer eligible): a delivery with no attempts, counted in the roll-ups as skipped.
   * Idempotent: a repeated call (a retried activity) writes nothing twice.
   */
  async recordSkippedUnsent(d: {
    deliveryId: string;
    runId: string;
    flowId: string;
    flowVersion: number;
    stepId: string;
    profileId: string;
    reason: string;
    context: string | null;
  }): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('deliveries')
        .values({
          id: d.deliveryId,
          run_id: d.runId,
          flow_id: d.flowId,
          flow_version: d.flowVersion,
          step_id: d.stepId,
          profile_id: d.profileId,
          status: 'skipped',
          attempts: 0,
          first_attempt_at: null,
          last_attempt_at: null,
          next_attempt_at: null,
          last_http_status: null,
          reason: d.reason,
          latency_ms: null,
          created_at: now,
          updated_at: now,
          context: d.context,
          manual: 0,
          resend_of: null,
          resent_to: null,
          resent_at: null,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return;
      await bumpRollup(trx, d.flowId, d.stepId, now, 'skipped', 0, 1);
    });
  }

  /**
   * Creates the pending delivery of a resend and links the original to it, unless the original's
   * latest resend is still pending or retrying (then that one is returned).
   */
  async createResend(
    original: DeliveryRow,
    resendId: string,
    runId: string,
  ): Promise<{ id: string; created: boolean }> {
    const now = new Date().toISOString();
    return this.db.transaction().execute(async (trx) => {
      // Read the link inside the transaction: two resends of one delivery are decided one after the other.
      await holdDelivery(trx, original.id);
      const current = await trx
        .selectFrom('deliveries')
        .select('resent_to')
        .where('id', '=', original.id)
        .executeTakeFirst();
      const resentTo = current?.resent_to ?? null;
      if (resentTo) {
        const latest = await trx
          .selectFrom('deliveries')
          .select(['id', 'status'])
          .where('id', '=', resentTo)
          .executeTakeFirst();
        if (latest && (latest.status === 'pending' || latest.status === 'retrying')) {
          return { id: latest.id, created: false };
        }
      }
      await trx
        .insertInto('deliveries')
        .values({
          id: resendId,
          run_id: runId,
          flow_id: original.flow_id,
          flow_version: original.flow_version,
          step_id: original.step_id,
          profile_id: original.profile_id,
          status: 'pending',
          attempts: 0,
          first_attempt_at: null,
          last_attempt_at: null,
          next_attempt_at: null,
          last_http_status: null,
          reason: 'resend requested',
          latency_ms: null,
          created_at: now,
          updated_at: now,
          context: original.context,
          manual: 1,
          resend_of: original.id,
          resent_to: null,
          resent_at: null,
        })
        .execute();
      await trx
        .updateTable('deliveries')
        .set({ resent_to: resendId, resent_at: now })
        .where('id', '=', original.id)
        .execute();
      await bumpRollup(trx, original.flow_id, original.step_id, now, 'pending', 0, 1);
      return { id: resendId, created: true };
    });
  }

  /** Undoes {@link createResend} when its workflow could not be started. */
  async abandonResend(original: DeliveryRow, resendId: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await holdDelivery(trx, original.id);
      await holdDelivery(trx, resendId);
      const row = await trx
        .selectFrom('deliveries')
        .select(['status', 'attempts', 'created_at'])
        .where('id', '=', resendId)
        .executeTakeFirst();
      if (!row || row.status !== 'pending' || row.attempts !== 0) return;
      await trx.deleteFrom('deliveries').where('id', '=', resendId).execute();
      await trx
        .updateTable('deliveries')
        .set({ resent_to: original.resent_to, resent_at: original.resent_at })
        .where('id', '=', original.id)
        .where('resent_to', '=', resendId)
        .execute();
      await bumpRollup(trx, original.flow_id, original.step_id, row.created_at, 'pending', 0, -1);
    });
  }

  /**
   * The delivery waits for its destination (circuit open, the endpoint's hold): shown retrying,
   * with why and when it tries again, and no attempt recorded. Created so when no attempt was made
   * yet; a delivery that has ended is left alone.
   */
  async recordWaiting(w: {
    deliveryId: string;
    runId: string;
    flowId: string;
    flowVersion: number;
    stepId: string;
    profileId: string;
    reason: string;
    nextAttemptAt: string;
    context: string | null;
    manual: boolean;
    resendOf: string | null;
  }): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await holdDelivery(trx, w.deliveryId);
      const row = await trx
        .selectFrom('deliveries')
        .select(['status', 'attempts', 'created_at', 'flow_id', 'step_id'])
        .where('id', '=', w.deliveryId)
        .executeTakeFirst();
      if (row && row.status !== 'pending' && row.status !== 'retrying') return;
      if (row) {
        await trx
          .updateTable('deliveries')
          .set({ status: 'retrying', reason: w.reason, next_attempt_at: w.nextAttemptAt, updated_at: now })
          .where('id', '=', w.deliveryId)
          .execute();
        if (row.status !== 'retrying') {
          await bumpRollup(trx, row.flow_id, row.step_id, row.created_at, row.status, row.attempts, -1);
          await bumpRollup(trx, row.flow_id, row.step_id, row.created_at, 'retrying', row.attempts, 1);
        }
        return;
      }
      await trx
        .insertInto('deliveries')
        .values({
          id: w.deliveryId,
          run_id: w.runId,
          flow_id: w.flowId,
          flow_version: w.flowVersion,
          step_id: w.stepId,
          profile_id: w.profileId,
          status: 'retrying',
          attempts: 0,
          first_attempt_at: null,
          last_attempt_at: null,
          next_attempt_at: w.nextAttemptAt,
          last_http_status: null,
          reason: w.reason,
          latency_ms: null,
          created_at: now,
          updated_at: now,
          context: w.context,
          manual: w.manual ? 1 : 0,
          resend_of: w.resendOf,
          resent_to: null,
          resent_at: null,
        })
        .execute();
      await bumpRollup(trx, w.flowId, w.stepId, now, 'retrying', 0, 1);
    });
  }

  /**
   * Ends a delivery the workflow gave up on when its last attempt was never recorded (the worker
   * died, or the attempt timed out): without this it would stay pending or retrying for ever.
   */
  async finalize(
    id: string,
    status: Extract<DeliveryStatus, 'failed' | 'skipped'>,
    reason: string,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await holdDelivery(trx, id);
      // The attempt that never recorded itself may have reached the endpoint: say so on its row.
      await markUnknown(trx, id);
      const row = await trx
        .selectFrom('deliveries')
        .select(['status', 'attempts', 'created_at', 'flow_id', 'step_id'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row || (row.status !== 'pending' && row.status !== 'retrying')) return;
      await trx
        .updateTable('deliveries')
        .set({ status, reason, next_attempt_at: null, updated_at: new Date().toISOString() })
        .where('id', '=', id)
        .execute();
      await bumpRollup(trx, row.flow_id, row.step_id, row.created_at, row.status, row.attempts, -1);
      await bumpRollup(trx, row.flow_id, row.step_id, row.created_at, status, row.attempts, 1);
    });
  }

  async get(id: string): Promise<DeliveryRow | undefined> {
    return this.db.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The run's own deliveries (resends share the run id but are not part of the run). */
  async forRun(runId: string): Promise<DeliveryRow[]> {
    return this.db
      .selectFrom('deliveries')
      .selectAll()
      .where('run_id', '=', runId)
      .where('manual', '=', 0)
      .execute();
  }
}

/**
 * Settles a delivery's `sending` attempt rows (those of one kind and numbered below `before`, when
 * given) as `unknown`: the request may have gone out, its answer was never recorded.
 */
async function markUnknown(trx: Trx, deliveryId: string, manual?: number, before?: number): Promise<void> {
  let q = trx
    .updateTable('delivery_attempts')
    .set({ outcome: 'unknown', reason: UNKNOWN_OUTCOME_REASON })
    .where('delivery_id', '=', deliveryId)
    .where('outcome', '=', 'sending');
  if (manual !== undefined) q = q.where('manual', '=', manual);
  if (before !== undefined) q = q.where('attempt', '<', before);
  await q.execute();
}

function periods(createdAt: string): [Grain, string][] {
  return [
    ['h', hourOf(createdAt)],
    ['d', dayOf(createdAt)],
  ];
}

async function bumpRollup(
  trx: Trx,
  flowId: string,
  stepId: string,
  createdAt: string,
  status: DeliveryStatus,
  attempts: number,
  delta: number,
): Promise<void> {
  for (const [grain, period] of periods(createdAt)) {
    await trx
      .insertInto('delivery_rollups')
      .values({ grain, period, flow_id: flowId, step_id: stepId, status, attempts, count: delta })
      .onConflict((oc) =>
        oc
          .columns(['grain', 'period', 'flow_id', 'step_id', 'status', 'attempts'])
          .doUpdateSet({ count: sql<number>`delivery_rollups.count + ${delta}` }),
      )
      .execute();
  }
}
