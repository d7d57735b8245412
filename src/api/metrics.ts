import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds buckets for API requests: most answer in milliseconds, event ingestion waits on Temporal. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Requests that matched no route share one label value, so scanners cannot grow the label set. */
const UNMATCHED = '(unmatched)';

/** The API's Prometheus metrics, served at `GET /metrics`. */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly seconds: Histogram<'method' | 'route'>;
  private readonly events: Counter;
  private readonly runs: Counter;
  private readonly eagerRuns: Counter;
  private readonly queued: Gauge;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hookflow_api_' });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'hookflow_http_requests_total',
      help: 'API requests by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.seconds = new Histogram({
      name: 'hookflow_http_request_duration_seconds',
      help: 'API request latency by method and route pattern, first byte in to last byte out.',
      labelNames: ['method', 'route'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.events = new Counter({
      name: 'hookflow_events_ingested_total',
      help: 'Events accepted by POST /api/events.',
      registers,
    });
    this.runs = new Counter({
      name: 'hookflow_runs_started_total',
      help: 'Flow runs Temporal accepted (from events, list joins, segment entries, runs taken over).',
      registers,
    });
    this.eagerRuns = new Counter({
      name: 'hookflow_runs_started_eagerly_total',
      help: 'Of the flow runs started, those whose first workflow task Temporal handed straight to the worker in this process (HOOKFLOW_EAGER_START); the rest fell back to a normal start.',
      registers,
    });
    this.queued = new Gauge({
      name: 'hookflow_runs_queued',
      help: 'Runs recorded but not yet started on Temporal (the backlog run-starting requests are refused beyond), as this process last counted them.',
      registers,
    });
  }

  /** The runs waiting for Temporal, as the run backlog last counted them. */
  runsQueued(n: number): void {
    this.queued.set(n);
  }

  eventIngested(): void {
    this.events.inc();
  }

  /** `eagerly`: its first workflow task came back in Temporal's answer (eager start). */
  runStarted(eagerly = false): void {
    this.runs.inc();
    if (eagerly) this.eagerRuns.inc();
  }

  /**
   * Counts every request under its route pattern (`/api/flows/:id`, never the id itself). Mounted
   * routers record their mount point in `res.locals` through {@link routeBase}, because Express has
   * reset `req.baseUrl` by the time an error handler answers.
   */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const started = performance.now();
      res.on('finish', () => {
        const route = routePattern(req.route, res.locals.routeBase, req.baseUrl);
        const method = req.method;
        this.requests.inc({ method, route, status: String(res.statusCode) });
        this.seconds.observe({ method, route }, (performance.now() - started) / 1000);
      });
      next();
    };
  }
}

/** Placed before a mounted router: remembers where it is mounted, for {@link ApiMetrics.middleware}. */
export const routeBase: RequestHandler = (req, res, next) => {
  res.locals.routeBase = req.baseUrl;
  next();
};

function routePattern(route: unknown, base: unknown, baseUrl: string): string {
  const path = (route as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') return UNMATCHED;
  const joined = `${typeof base === 'string' ? base : baseUrl}${path}`;
  return joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
}
