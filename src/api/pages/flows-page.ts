import type { Request, Response } from 'express';
import { Router } from 'express';
import type { AnalyticsStore } from '../../analytics/store';
import type { ListService } from '../../audience/lists';
import type { SegmentService } from '../../audience/segments';
import { describeTrigger } from '../../flows/describe-trigger';
import type { FlowStore } from '../../flows/store';
import { webhookSteps } from '../../flows/webhook-changes';
import { permissionError } from '../../permissions';
import { currentPrincipal } from '../auth';
import type { Render } from './views';
import { queryString, signedInPage } from './views';

const DAY_MS = 86_400_000;

/** The trigger types a flow can be created with from the list page, as the form offers them. */
const TRIGGER_TYPES = [
  { value: 'metric', label: 'Metric (an event such as Placed Order)' },
  { value: 'list', label: 'Added to a list' },
  { value: 'segment', label: 'Entered a segment' },
  { value: 'date', label: 'Date property (birthday, anniversary…)' },
  { value: 'price_drop', label: 'Price drop' },
] as const;

export interface FlowRow {
  id: string;
  name: string;
  trigger: string;
  status: string;
  webhookSteps: number;
  deliveries24h: number;
  failures24h: number;
  deliveriesHref: string;
  failuresHref: string;
  updatedAt: string;
  updatedBy: string | null;
}

/**
 * The flow list (`/flows`): every flow with its trigger, status, webhook steps and the last 24
 * hours of deliveries. Two queries for the rows whatever the number of flows (the flows with who
 * saved them, and one grouped count over the roll-ups), two for the create form's choices.
 */
export function flowsPage(deps: {
  flows: FlowStore;
  analytics: AnalyticsStore;
  lists: Pick<ListService, 'all'>;
  segments: Pick<SegmentService, 'names'>;
  render: Render;
}): Router {
  const r = Router();

  r.get('/flows', signedInPage, async (_req: Request, res: Response) => {
    const to = new Date().toISOString();
    const from = new Date(Date.now() - DAY_MS).toISOString();
    const canWrite = permissionError(currentPrincipal(res), 'flows:write') === undefined;
    const [overview, totals, lists, segments] = await Promise.all([
      deps.flows.listOverview(),
      deps.analytics.byFlow({ from, to }),
      canWrite ? deps.lists.all() : [],
      canWrite ? deps.segments.names() : [],
    ]);
    const rows: FlowRow[] = overview.map(({ flow, savedBy, triggerRefName }) => {
      const t = totals.get(flow.id);
      return {
        id: flow.id,
        name: flow.name,
        trigger: describeTrigger(flow.trigger, triggerRefName),
        status: flow.status,
        webhookSteps: webhookSteps(flow.steps).length,
        deliveries24h: t?.total ?? 0,
        failures24h: (t?.counts.failed ?? 0) + (t?.counts.skipped ?? 0),
        deliveriesHref: `/webhooks${queryString({ range: '24h', flow: flow.id })}`,
        failuresHref: `/webhooks${queryString({ range: '24h', flow: flow.id, status: 'failures' })}`,
        updatedAt: flow.updatedAt,
        updatedBy: savedBy
          ? `${savedBy.email ?? savedBy.userId}${savedBy.apiKeyId ? ' (API key)' : ''}`
          : null,
      };
    });
    deps.render(res, 'flows.njk', {
      title: 'Flows',
      section: 'flows',
      rows,
      canWrite,
      triggerTypes: TRIGGER_TYPES,
      lists: lists.map((l) => ({ id: l.id, name: l.name })),
      segments,
    });
  });

  return r;
}
