import type { Request, Response } from 'express';
import { Router } from 'express';
import type { AnalyticsStore, DeliverySummary, Stats } from '../../analytics/store';
import type { FlowStore } from '../../flows/store';
import { NotFoundError } from '../../errors';
import { walkSteps } from '../../flows/model';
import type { RunService } from '../../runs/service';
import type { ChartGeometry } from './chart';
import { chartGeometry } from './chart';
import type { Render } from './views';
import { signedInPage } from './views';

const RANGES: Record<string, { label: string; ms: number }> = {
  '24h': { label: 'Last 24 hours', ms: 86_400_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000 },
  '30d': { label: 'Last 30 days', ms: 30 * 86_400_000 },
};
const QUEUE_SIZE = 10;

interface StepView {
  flowId: string;
  flowName: string;
  flowStatus: string;
  stepId: string;
  stepName: string;
  host: string;
  stats: Stats;
  chart: ChartGeometry;
  failed: DeliverySummary[];
  skipped: DeliverySummary[];
  hasMoreFailed: boolean;
  hasMoreSkipped: boolean;
}

function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return url;
  }
}

/** The Webhook Analytics pages, server-rendered with nunjucks (HTML escaping on). */
export function webhooksPages(deps: {
  analytics: AnalyticsStore;
  flows: FlowStore;
  runs: RunService;
  render: Render;
}): Router {
  const { render } = deps;
  const r = Router();

  r.get('/webhooks', signedInPage, async (req: Request, res: Response) => {
    const asked = req.query.range;
    const rangeKey = typeof asked === 'string' && Object.hasOwn(RANGES, asked) ? asked : '7d';
    const range = RANGES[rangeKey]!;
    const to = new Date().toISOString();
    const from = new Date(Date.now() - range.ms).toISOString();
    const overall = await deps.analytics.stats({ from, to });
    const flows = await deps.flows.list();
    const steps: StepView[] = [];
    for (const flow of flows) {
      for (const s of walkSteps(flow.steps)) {
        if (s.type !== 'webhook') continue;
        const step = s;
        const scope = { flowId: flow.id, stepId: step.id };
        const [stats, failed, skipped] = await Promise.all([
          deps.analytics.stats({ ...scope, from, to }),
          deps.analytics.list({ ...scope, status: 'failed', limit: QUEUE_SIZE }),
          deps.analytics.list({ ...scope, status: 'skipped', limit: QUEUE_SIZE }),
        ]);
        steps.push({
          flowId: flow.id,
          flowName: flow.name,
          flowStatus: flow.status,
          stepId: step.id,
          stepName: step.name ?? step.id,
          host: hostOf(step.url),
          stats,
          chart: chartGeometry(stats.series.points, { from, to, interval: stats.series.interval }),
          failed: failed.deliveries,
          skipped: skipped.deliveries,
          hasMoreFailed: failed.nextCursor !== null,
          hasMoreSkipped: skipped.nextCursor !== null,
        });
      }
    }
    render(res, 'webhooks.njk', {
      title: 'Webhook Analytics',
      overall,
      steps,
      rangeKey,
      ranges: Object.entries(RANGES).map(([key, v]) => ({ key, label: v.label })),
      rangeLabel: range.label,
    });
  });

  r.get('/webhooks/deliveries/:id', signedInPage, async (req: Request<{ id: string }>, res: Response) => {
    const found = await deps.analytics.get(req.params.id);
    if (!found) throw new NotFoundError(`delivery ${req.params.id}`);
    const flow = await deps.flows.get(found.delivery.flowId);
    render(res, 'delivery.njk', {
      title: `Delivery ${found.delivery.id}`,
      delivery: found.delivery,
      attempts: found.attempts,
      flowName: flow?.name ?? found.delivery.flowId,
      runUrl: deps.runs.temporalUrl(found.delivery.runId),
    });
  });

  return r;
}
