import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../config';
import type { DeliveryRow, DeliveryStore } from '../db/delivery-store';
import type { FlowStore } from '../flows/store';
import { ConflictError, DomainError, NotFoundError } from '../errors';
import { findStep } from '../flows/model';
import { buildPlan } from '../flows/plan';
import type { ResendInput, RunContext } from '../shared/run-types';
import { RunStarter } from '../temporal/run-starter';
import type { AnalyticsStore, ListQuery } from './store';

export interface ResendOutcome {
  originalId: string;
  /** The delivery that carries the resend's attempts. */
  deliveryId: string;
  status: 'started' | 'already_running';
}

/** Resends at most this many deliveries per bulk request; the answer says how many remain. */
export const BULK_RESEND_LIMIT = 5000;

/**
 * Sends deliveries again with the step's current URL, headers and body and the original context.
 * Each resend is a delivery of its own (linked both ways) run by the `resendDelivery` workflow,
 * whose id is derived from the original: one resend of a delivery runs at a time.
 */
export class ResendService {
  private readonly starter: RunStarter;

  constructor(
    private readonly deliveries: DeliveryStore,
    private readonly analytics: AnalyticsStore,
    private readonly flows: FlowStore,
    client: Client,
    private readonly config: Config,
  ) {
    this.starter = new RunStarter(client, config.temporal.taskQueue);
  }

  async resendOne(id: string): Promise<ResendOutcome> {
    const original = await this.deliveries.get(id);
    if (!original) throw new NotFoundError(`delivery ${id}`);
    if (original.status === 'pending' || original.status === 'retrying') {
      throw new ConflictError(
        'still_delivering',
        `delivery ${id} is still ${original.status}; wait for it to end`,
      );
    }
    return this.start(original);
  }

  /** Resends every delivery the filters select that has not been resent yet, newest first. */
  async resendMany(
    filters: Omit<ListQuery, 'cursor' | 'limit'>,
  ): Promise<{ resent: number; alreadyRunning: number; notResendable: number; more: boolean }> {
    let resent = 0;
    let alreadyRunning = 0;
    let notResendable = 0;
    let cursor: string | undefined;
    const targets: DeliveryRow[] = [];
    do {
      const page = await this.analytics.list({ ...filters, limit: 500, ...(cursor ? { cursor } : {}) });
      for (const d of page.deliveries) {
        if (d.resentTo || d.status === 'pending' || d.status === 'retrying') continue;
        const row = await this.deliveries.get(d.id);
        if (row) targets.push(row);
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor && targets.length < BULK_RESEND_LIMIT + 1);
    const batch = targets.slice(0, BULK_RESEND_LIMIT);
    for (let i = 0; i < batch.length; i += 16) {
      // One delivery that cannot be resent (its step was removed, say) does not stop the others.
      const outcomes = await Promise.allSettled(batch.slice(i, i + 16).map((d) => this.start(d)));
      for (const o of outcomes) {
        if (o.status === 'rejected') {
          if (!(o.reason instanceof DomainError)) throw o.reason;
          notResendable++;
        } else if (o.value.status === 'started') resent++;
        else alreadyRunning++;
      }
    }
    return { resent, alreadyRunning, notResendable, more: targets.length > batch.length };
  }

  private async start(original: DeliveryRow): Promise<ResendOutcome> {
    if (original.status === 'skipped' && original.attempts === 0 && original.manual === 0) {
      // Skipped before sending: the profile was deleted or no longer eligible. Sending now would
      // reach exactly the people the flow says must not be reached.
      throw new ConflictError(
        'not_eligible',
        `delivery ${original.id} was skipped before sending (${original.reason ?? 'profile no longer eligible'}); it cannot be resent`,
      );
    }
    const flow = await this.flows.get(original.flow_id);
    const step = flow && findStep(flow.steps, original.step_id);
    if (!flow || step?.type !== 'webhook') {
      throw new ConflictError(
        'step_removed',
        `step ${original.step_id} of flow ${original.flow_id} no longer exists; it cannot be resent`,
      );
    }
    if (!original.context) {
      throw new ConflictError('no_context', `delivery ${original.id} has no recorded context to resend with`);
    }
    const resendId = `dlv_${crypto.randomBytes(12).toString('hex')}`;
    const created = await this.deliveries.createResend(original, resendId, original.run_id);
    if (!created.created)
      return { originalId: original.id, deliveryId: created.id, status: 'already_running' };
    const [plan] = buildPlan([step], this.config.webhook.retry, this.config.webhook.timeoutMs);
    const retry = plan?.type === 'webhook' ? plan.retry : this.config.webhook.retry;
    const input: ResendInput = {
      delivery: {
        runId: original.run_id,
        flowId: original.flow_id,
        flowVersion: flow.version,
        stepId: original.step_id,
        profileId: original.profile_id,
        context: JSON.parse(original.context) as RunContext,
        resend: { deliveryId: resendId, originalId: original.id },
      },
      retry,
      timeoutMs: this.config.webhook.timeoutMs,
    };
    try {
      await this.starter.resendDelivery(input, original.id);
    } catch (err) {
      // Nothing runs behind the new row: remove it, so it never blocks the next resend.
      await this.deliveries.abandonResend(original, resendId);
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        return {
          originalId: original.id,
          deliveryId: original.resent_to ?? resendId,
          status: 'already_running',
        };
      }
      throw err;
    }
    return { originalId: original.id, deliveryId: resendId, status: 'started' };
  }
}
