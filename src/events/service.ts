import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { FactsSource } from '../audience/eligibility';
import { passesFlowFilters, passesTriggerFilters } from '../audience/eligibility';
import type { Config } from '../config';
import type { EventStore, RunRow } from '../db/event-store';
import type { FlowStore } from '../flows/store';
import type { Flow } from '../flows/model';
import { buildPlan } from '../flows/plan';
import type { FlowRunInput, RunContext } from '../shared/run-types';
import type { Logger } from '../logger';
import { RunStarter } from '../temporal/run-starter';
import { buildContext } from '../templates/context';
import type { EventInput } from './schema';

export interface StartedRun {
  flowId: string;
  runId: string;
}

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** Profiles are identified by their first identifier: email (case-insensitive), phone, external id. */
export function profileIdFor(p: EventInput['profile']): string {
  const key = p.email
    ? `email:${p.email.toLowerCase()}`
    : p.phone_number
      ? `phone:${p.phone_number}`
      : `external:${p.external_id ?? ''}`;
  return `prf_${sha(key).slice(0, 20)}`;
}

/** With a unique_id, the run id is derived from flow, metric and unique_id: a repeat maps to the same run. */
function runIdFor(flowId: string, metric: string, uniqueId: string | undefined): string {
  if (uniqueId === undefined) return `run_${crypto.randomUUID().replace(/-/g, '')}`;
  return `run_${sha(`${flowId}\0${metric}\0${uniqueId}`).slice(0, 32)}`;
}

/** Accepts events, stores them, and starts one run per live flow whose trigger matches. */
export class EventService {
  private readonly starter: RunStarter;

  constructor(
    private readonly events: EventStore,
    private readonly flows: FlowStore,
    client: Client,
    private readonly config: Config,
    private readonly logger: Logger,
    /** The facts flow filters are decided on at entry. */
    private readonly facts: FactsSource,
  ) {
    this.starter = new RunStarter(client, config.temporal.taskQueue);
  }

  async ingest(input: EventInput): Promise<{ runs: StartedRun[]; duplicate: boolean }> {
    const now = new Date().toISOString();
    const uniqueId = input.unique_id === undefined ? undefined : String(input.unique_id);
    const profileId = profileIdFor(input.profile);
    await this.events.upsertProfile(
      {
        id: profileId,
        email: input.profile.email ?? null,
        phoneNumber: input.profile.phone_number ?? null,
        externalId: input.profile.external_id ?? null,
        data: input.profile,
      },
      now,
    );
    const stored = await this.events.insertEvent({
      id: `evt_${crypto.randomUUID().replace(/-/g, '')}`,
      metric: input.metric,
      profileId,
      profile: input.profile,
      properties: input.properties,
      uniqueId: uniqueId ?? null,
      time: input.time ? new Date(input.time).toISOString() : now,
      receivedAt: now,
    });

    let runs: RunRow[];
    const flowsById = new Map<string, Flow>();
    let context = buildContext(input.profile, input.properties, profileId);
    if (stored.duplicate) {
      // The same event again: no new runs, only the ones it started (finishing any start cut short,
      // with the context of the event as it first arrived).
      runs = await this.events.runsForEvent(stored.id);
      const original = await this.events.getEvent(stored.id);
      if (original) context = buildContext(original.profile, original.properties, original.profileId);
    } else {
      const live = await this.entering(
        await this.flows.liveByMetric(input.metric),
        profileId,
        input.properties,
        new Date(now),
      );
      runs = live.map((f) => {
        flowsById.set(f.id, f);
        return {
          id: runIdFor(f.id, input.metric, uniqueId),
          flow_id: f.id,
          flow_version: f.version,
          event_id: stored.id,
          started_at: null,
          created_at: now,
        };
      });
      await this.events.insertRuns(runs);
    }

    await Promise.all(
      runs
        .filter((r) => r.started_at === null)
        .map((r) => this.start(r, flowsById.get(r.flow_id), input.metric, context)),
    );
    return { runs: runs.map((r) => ({ flowId: r.flow_id, runId: r.id })), duplicate: stored.duplicate };
  }

  /** The flows this event enters: trigger filters on its properties, flow filters on its profile. */
  private async entering(
    flows: Flow[],
    profileId: string,
    properties: Record<string, unknown>,
    now: Date,
  ): Promise<Flow[]> {
    const out: Flow[] = [];
    for (const f of flows) {
      if (!passesTriggerFilters(f.triggerFilters, properties, now)) {
        this.logger.debug({ flowId: f.id, profileId }, 'event fails trigger filters: no run');
        continue;
      }
      const ctx = { now, flowId: f.id, event: properties };
      if (!(await passesFlowFilters(this.facts, f.flowFilters, profileId, ctx))) {
        this.logger.debug({ flowId: f.id, profileId }, 'profile fails flow filters: no run');
        continue;
      }
      out.push(f);
    }
    return out;
  }

  private async start(run: RunRow, flow: Flow | undefined, metric: string, context: RunContext) {
    const steps = flow?.steps ?? (await this.flows.getVersion(run.flow_id, run.flow_version))?.steps ?? [];
    const input: FlowRunInput = {
      runId: run.id,
      flowId: run.flow_id,
      flowVersion: run.flow_version,
      profileId: String(context.person.id),
      eventId: run.event_id,
      context,
      plan: buildPlan(steps, this.config.webhook.retry, this.config.webhook.timeoutMs),
    };
    try {
      // A run id is started once, ever: a repeated event must never run a flow twice.
      await this.starter.flowRun(input, metric);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    await this.events.markStarted(run.id, new Date().toISOString());
    this.logger.debug({ runId: run.id, flowId: run.flow_id }, 'run started');
  }
}
