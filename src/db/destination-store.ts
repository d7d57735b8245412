import crypto from 'node:crypto';
import type { Selectable, Transaction } from 'kysely';
import { sql } from 'kysely';
import type {
  Admission,
  AttemptVerdict,
  BreakerSettings,
  CircuitState,
  DestinationLimits,
  DestinationState,
  WaitReason,
} from '../shared/destination-guard';
import { admit, afterDestinationAttempt, closed, freshDestination } from '../shared/destination-guard';
import { writeAudit } from './audit-store';
import { dialectOf } from './dialect';
import type { Db } from './index';
import type { Database, DestinationsTable } from './schema';

type Trx = Transaction<Database>;
type Row = Selectable<DestinationsTable>;

/** A request's slot at a destination, released by {@link DestinationStore.release}. */
export interface DestinationLease {
  id: string;
  destinationId: string;
  /** The attempt is the half-open probe: its outcome closes or re-opens the circuit. */
  probe: boolean;
}

export type Acquired = { lease: DestinationLease } | { waitUntilMs: number; reason: WaitReason };

/** A paused destination as the analytics page shows it. */
export interface PausedDestination {
  id: string;
  origin: string;
  circuit: CircuitState | 'held';
  reason: string;
  /** ISO: when it opened (or when the hold began to matter: now). */
  since: string;
  /** ISO: when the next probe is let through, or the hold ends. */
  until: string | null;
}

/** The id of a destination: stable across processes, safe in a URL path. */
export function destinationIdOf(origin: string): string {
  return `dst_${crypto.createHash('sha256').update(origin).digest('hex').slice(0, 20)}`;
}

const MINUTE = 60_000;

function stateOf(r: Row): DestinationState {
  return {
    circuit: r.circuit,
    openedAt: r.opened_at,
    reason: r.reason,
    reopenAt: r.reopen_at,
    probeUntil: r.probe_until,
    holdUntil: r.hold_until,
    tokens: r.tokens,
    tokensAt: r.tokens_at,
  };
}

function columnsOf(s: DestinationState, nowMs: number) {
  return {
    circuit: s.circuit,
    opened_at: s.openedAt,
    reason: s.reason,
    reopen_at: s.reopenAt,
    probe_until: s.probeUntil,
    hold_until: s.holdUntil,
    tokens: s.tokens,
    tokens_at: s.tokensAt,
    updated_at: nowMs,
  };
}

function sameState(a: DestinationState, b: DestinationState): boolean {
  return (Object.keys(a) as (keyof DestinationState)[]).every((k) => a[k] === b[k]);
}

/**
 * Endpoint protection's shared state (issue 16): every worker process acquires a slot here before
 * a request and releases it after, in one short transaction each. The rules are
 * src/shared/destination-guard.ts; this store only reads and writes them under the destination's
 * row lock (SQLite: the write transaction; PostgreSQL: `for update`).
 */
export class DestinationStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  /** The destination's row, locked for the transaction; created closed when new. */
  private async lockRow(trx: Trx, origin: string, limits: DestinationLimits, nowMs: number): Promise<Row> {
    const id = destinationIdOf(origin);
    const read = () => {
      const q = trx.selectFrom('destinations').selectAll().where('id', '=', id);
      return (dialectOf(trx) === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
    };
    const found = await read();
    if (found) return found;
    await trx
      .insertInto('destinations')
      .values({ id, origin, ...columnsOf(freshDestination(limits, nowMs), nowMs) })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    const made = await read();
    if (!made) throw new Error(`destination ${origin} vanished while it was created`);
    return made;
  }

  /**
   * A slot for one request to `origin` now, or when to ask again and why. `leaseMs` bounds the
   * slot: a worker killed mid-request frees it when its lease lapses.
   */
  async acquire(origin: string, limits: DestinationLimits, leaseMs: number): Promise<Acquired> {
    const nowMs = this.now();
    return this.db.transaction().execute(async (trx) => {
      const row = await this.lockRow(trx, origin, limits, nowMs);
      const live = await trx
        .selectFrom('destination_leases')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('destination_id', '=', row.id)
        .where('expires_at', '>', nowMs)
        .executeTakeFirstOrThrow();
      const state = stateOf(row);
      const decision: Admission = admit(state, Number(live.n), limits, leaseMs, nowMs);
      if (!decision.go) return { waitUntilMs: decision.untilMs, reason: decision.reason };
      const lease: DestinationLease = {
        id: crypto.randomUUID(),
        destinationId: row.id,
        probe: decision.probe,
      };
      await trx
        .insertInto('destination_leases')
        .values({ id: lease.id, destination_id: row.id, expires_at: nowMs + leaseMs })
        .execute();
      if (!sameState(state, decision.next)) {
        await trx
          .updateTable('destinations')
          .set(columnsOf(decision.next, nowMs))
          .where('id', '=', row.id)
          .execute();
      }
      return { lease };
    });
  }

  /**
   * Frees the slot, counts the attempt in its minute and moves the circuit. Returns the circuit's
   * new state when it changed (for the transition metric).
   */
  async release(
    lease: DestinationLease,
    verdict: AttemptVerdict,
    breaker: BreakerSettings,
  ): Promise<CircuitState | undefined> {
    const nowMs = this.now();
    const minute = Math.floor(nowMs / MINUTE);
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('destination_leases').where('id', '=', lease.id).execute();
      const failures = verdict.failed ? 1 : 0;
      await trx
        .insertInto('destination_outcomes')
        .values({ destination_id: lease.destinationId, minute, attempts: 1, failures })
        .onConflict((oc) =>
          oc.columns(['destination_id', 'minute']).doUpdateSet({
            attempts: sql<number>`destination_outcomes.attempts + 1`,
            failures: sql<number>`destination_outcomes.failures + ${failures}`,
          }),
        )
        .execute();
      // Most attempts succeed without a hold: the destination's row need not be read at all.
      if (!verdict.probe && !verdict.failed && verdict.retryAfterMs === undefined) return undefined;
      const q = trx.selectFrom('destinations').selectAll().where('id', '=', lease.destinationId);
      const row = await (dialectOf(trx) === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
      if (!row) return undefined;
      const state = stateOf(row);
      const window =
        state.circuit === 'closed' && verdict.failed && !verdict.probe
          ? await this.windowCounts(trx, lease.destinationId, nowMs, breaker.windowMs)
          : undefined;
      const after = afterDestinationAttempt(state, verdict, window, breaker, nowMs);
      if (after.transition === 'closed') {
        // Failures from before the outage must not count against the recovered endpoint.
        await trx
          .deleteFrom('destination_outcomes')
          .where('destination_id', '=', lease.destinationId)
          .execute();
      }
      if (!sameState(state, after.next)) {
        await trx
          .updateTable('destinations')
          .set(columnsOf(after.next, nowMs))
          .where('id', '=', lease.destinationId)
          .execute();
      }
      return after.transition;
    });
  }

  private async windowCounts(trx: Trx, destinationId: string, nowMs: number, windowMs: number) {
    const from = Math.floor((nowMs - windowMs) / MINUTE);
    const r = await trx
      .selectFrom('destination_outcomes')
      .select((eb) => [
        eb.fn.coalesce(eb.fn.sum<number>('attempts'), sql<number>`0`).as('attempts'),
        eb.fn.coalesce(eb.fn.sum<number>('failures'), sql<number>`0`).as('failures'),
      ])
      .where('destination_id', '=', destinationId)
      .where('minute', '>', from)
      .executeTakeFirstOrThrow();
    return { attempts: Number(r.attempts), failures: Number(r.failures) };
  }

  /** Destinations that hold their traffic now: the circuit not closed, or the endpoint's hold running. */
  async paused(): Promise<PausedDestination[]> {
    const nowMs = this.now();
    const rows = await this.db
      .selectFrom('destinations')
      .selectAll()
      .where((eb) => eb.or([eb('circuit', '!=', 'closed'), eb('hold_until', '>', nowMs)]))
      .orderBy('origin')
      .execute();
    return rows.map((r) => {
      const open = r.circuit !== 'closed';
      return {
        id: r.id,
        origin: r.origin,
        circuit: open ? r.circuit : 'held',
        reason: open ? (r.reason ?? 'circuit open') : 'the endpoint asked for a pause (Retry-After)',
        since: new Date(open ? (r.opened_at ?? r.updated_at) : r.updated_at).toISOString(),
        until:
          open && r.reopen_at !== null
            ? new Date(r.reopen_at).toISOString()
            : !open && r.hold_until !== null
              ? new Date(r.hold_until).toISOString()
              : null,
      };
    });
  }

  /** Destinations whose circuit is open or half-open (the metric's gauge). */
  async countOpen(): Promise<number> {
    const r = await this.db
      .selectFrom('destinations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('circuit', '!=', 'closed')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /**
   * A person resumes a destination: the circuit closes, the endpoint's hold ends and the window
   * starts afresh, in the transaction that writes the audit entry. False when it does not exist.
   */
  async resume(id: string, by: { userId: string; apiKeyId: string | null }): Promise<boolean> {
    const nowMs = this.now();
    return this.db.transaction().execute(async (trx) => {
      const q = trx.selectFrom('destinations').selectAll().where('id', '=', id);
      const row = await (dialectOf(trx) === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
      if (!row) return false;
      const next = { ...closed(stateOf(row)), holdUntil: null };
      await trx.updateTable('destinations').set(columnsOf(next, nowMs)).where('id', '=', id).execute();
      await trx.deleteFrom('destination_outcomes').where('destination_id', '=', id).execute();
      await writeAudit(trx, [
        {
          at: new Date(nowMs).toISOString(),
          user_id: by.userId,
          api_key_id: by.apiKeyId,
          action: 'destination.resume',
          flow_id: null,
          step_id: null,
          fields: JSON.stringify([row.origin]),
        },
      ]);
      return true;
    });
  }

  /** Drops lapsed leases and minutes older than the window (the worker runs it now and then). */
  async prune(windowMs: number): Promise<void> {
    const nowMs = this.now();
    await this.db.deleteFrom('destination_leases').where('expires_at', '<=', nowMs).execute();
    await this.db
      .deleteFrom('destination_outcomes')
      .where('minute', '<=', Math.floor((nowMs - windowMs) / MINUTE) - 1)
      .execute();
  }
}
