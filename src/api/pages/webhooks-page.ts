import type { Request, Response } from 'express';
import { Router } from 'express';
import type { AnalyticsStore, DeliverySummary, Stats } from '../../analytics/store';
import type { DestinationStore } from '../../db/destination-store';
import type { FlowStore } from '../../flows/store';
import { NotFoundError } from '../../errors';
import { walkSteps } from '../../flows/model';
import type { RunBacklog } from '../../runs/backlog';
import type { RunService } from '../../runs/service';
import type { ChartGeometry } from './chart';
import { chartGeometry } from './chart';
import type { SortKey, StepRow } from './step-table';
import { defaultDir, parseTableQuery, tableRows } from './step-table';
import type { Render } from './views';
import { queryString, signedInPage } from './views';

const RANGES: Record<string, { label: string; ms: number }> = {
  '24h': { label: 'Last 24 hours', ms: 86_400_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000 },
  '30d': { label: 'Last 30 days', ms: 30 * 86_400_000 },
};
const QUEUE_SIZE = 10;

const COLUMNS: { key: SortKey; label: string; numeric: boolean }[] = [
  { key: 'flow', label: 'Flow', numeric: false },
  { key: 'step', label: 'Step', numeric: false },
  { key: 'host', label: 'Destination', numeric: false },
  { key: 'delivered', label: 'Delivered', numeric: true },
  { key: 'retrying', label: 'Retrying', numeric: true },
  { key: 'failed', label: 'Failed', numeric: true },
  { key: 'skipped', label: 'Skipped', numeric: true },
  { key: 'success', label: 'Success rate', numeric: true },
  { key: 'p95', label: 'p95 latency', numeric: true },
];

function rangeOf(asked: unknown) {
  const rangeKey = typeof asked === 'string' && Object.hasOwn(RANGES, asked) ? asked : '7d';
  const range = RANGES[rangeKey]!;
  return {
    rangeKey,
    range,
    to: new Date().toISOString(),
    from: new Date(Date.now() - range.ms).toISOString(),
  };
}

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

/** "1,234 runs queued, waiting for Temporal", or nothing when none waits. */
export function queuedLine(queued: number): string | undefined {
  if (queued <= 0) return undefined;
  return `${queued.toLocaleString('en-US')} ${queued === 1 ? 'run' : 'runs'} queued, waiting for Temporal`;
}

/** The Webhook Analytics pages, server-rendered with nunjucks (HTML escaping on). */
export function webhooksPages(deps: {
  analytics: AnalyticsStore;
  flows: FlowStore;
  runs: Pick<RunService, 'temporalUrl'>;
  /** Runs recorded but not started: shown above the cards while Temporal lags or is down. */
  backlog: Pick<RunBacklog, 'queued'>;
  /** Destinations endpoint protection holds back: listed above the table with *Resume now*. */
  destinations: Pick<DestinationStore, 'paused'>;
  render: Render;
}): Router {
  const { render } = deps;
  const r = Router();

  r.get('/webhooks', signedInPage, async (req: Request, res: Response) => {
    const { rangeKey, range, from, to } = rangeOf(req.query.range);
    const query = parseTableQuery(req.query);
    // Five queries whatever the number of flows: the overall stats (two), the flows, and the
    // per-step counts and latencies (two grouped queries).
    const [overall, flows, totals, paused] = await Promise.all([
      deps.analytics.stats({ from, to }),
      deps.flows.list(),
      deps.analytics.byStep({ from, to }),
      deps.destinations.paused(),
    ]);
    const byKey = new Map(totals.map((t) => [`${t.flowId}/${t.stepId}`, t]));
    const all: StepRow[] = [];
    for (const flow of flows) {
      for (const s of walkSteps(flow.steps)) {
        if (s.type !== 'webhook') continue;
        const t = byKey.get(`${flow.id}/${s.id}`);
        all.push({
          flowId: flow.id,
          flowName: flow.name,
          flowStatus: flow.status,
          stepId: s.id,
          stepName: s.name ?? s.id,
          host: hostOf(s.url),
          delivered: t?.counts.delivered ?? 0,
          retrying: (t?.counts.retrying ?? 0) + (t?.counts.pending ?? 0),
          failed: t?.counts.failed ?? 0,
          skipped: t?.counts.skipped ?? 0,
          successRate: t?.successRate ?? null,
          p95Ms: t?.p95Ms ?? null,
        });
      }
    }
    const rows = tableRows(all, query);
    const filterFlow = query.flowId ? flows.find((f) => f.id === query.flowId) : undefined;
    // Links keep the range and the filters; a column header sorts by it (again: the other way).
    const keep = {
      range: rangeKey,
      q: query.text || undefined,
      status: query.failuresOnly ? 'failures' : undefined,
      flow: query.flowId,
    };
    const columns = COLUMNS.map((c) => {
      const on = query.sort === c.key;
      const dir = on ? (query.dir === 'asc' ? 'desc' : 'asc') : defaultDir(c.key);
      return {
        ...c,
        ariaSort: on ? (query.dir === 'asc' ? 'ascending' : 'descending') : 'none',
        href: `/webhooks${queryString({ ...keep, sort: c.key, dir })}`,
      };
    });
    render(res, 'webhooks.njk', {
      title: 'Webhook Analytics',
      section: 'webhooks',
      overall,
      rows,
      stepCount: all.length,
      columns,
      query,
      filterFlow: filterFlow ? { id: filterFlow.id, name: filterFlow.name } : undefined,
      flowChoices: flows.map((f) => ({ id: f.id, name: f.name })),
      sortLabel:
        query.sort === 'failures'
          ? 'failures first'
          : `by ${COLUMNS.find((c) => c.key === query.sort)!.label.toLowerCase()}, ${query.dir === 'asc' ? 'ascending' : 'descending'}`,
      rangeKey,
      ranges: Object.entries(RANGES).map(([key, v]) => ({
        key,
        label: v.label,
        href: `/webhooks${queryString({ ...keep, range: key, sort: query.sort === 'failures' ? undefined : query.sort, dir: query.sort === 'failures' ? undefined : query.dir })}`,
      })),
      rangeLabel: range.label,
      clearHref: `/webhooks${queryString({ range: rangeKey })}`,
      queuedLine: queuedLine(deps.backlog.queued),
      paused,
    });
  });

  r.get(
    '/webhooks/steps/:flowId/:stepId',
    signedInPage,
    async (req: Request<{ flowId: string; stepId: string }>, res: Response) => {
      const { rangeKey, range, from, to } = rangeOf(req.query.range);
      const flow = await deps.flows.get(req.params.flowId);
      const step = flow && [...walkSteps(flow.steps)].find((s) => s.id === req.params.stepId);
      if (!flow || step?.type !== 'webhook') {
        throw new NotFoundError(`webhook step ${req.params.stepId} of flow ${req.params.flowId}`);
      }
      const scope = { flowId: flow.id, stepId: step.id };
      const [stats, failed, skipped] = await Promise.all([
        deps.analytics.stats({ ...scope, from, to }),
        deps.analytics.list({ ...scope, status: 'failed', limit: QUEUE_SIZE }),
        deps.analytics.list({ ...scope, status: 'skipped', limit: QUEUE_SIZE }),
      ]);
      const s: StepView = {
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
      };
      const here = `/webhooks/steps/${encodeURIComponent(flow.id)}/${encodeURIComponent(step.id)}`;
      render(res, 'webhook-step.njk', {
        title: `${s.flowName} · ${s.stepName} · Webhook Analytics`,
        section: 'webhooks',
        s,
        rangeKey,
        ranges: Object.entries(RANGES).map(([key, v]) => ({
          key,
          label: v.label,
          href: `${here}${queryString({ range: key })}`,
        })),
        rangeLabel: range.label,
        builderHref: `/flows/${encodeURIComponent(flow.id)}#step-${encodeURIComponent(step.id)}`,
        backHref: `/webhooks${queryString({ range: rangeKey, flow: flow.id })}`,
      });
    },
  );

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
