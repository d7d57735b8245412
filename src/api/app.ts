import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import express from 'express';
import type { Config } from '../config';
import type { Db } from '../db';
import type { EventService } from '../events/service';
import type { FlowService } from '../flows/service';
import type { StepTools } from '../flows/step-tools';
import type { EventStore } from '../db/event-store';
import type { Logger } from '../logger';
import type { RunService } from '../runs/service';
import type { ResendService } from '../analytics/resend';
import type { AnalyticsStore } from '../analytics/store';
import { errorHandler, notFound, requestLog, sameOriginWrites } from './middleware';
import { webhooksRouter } from './webhooks';
import type { Accounts } from '../auth/accounts';
import { accountsRouter } from './accounts';
import { resolvePrincipal } from './auth';
import { eventsRouter } from './events';
import { flowsRouter } from './flows';
import { runsRouter } from './runs';
import type { AuditStore } from '../db/audit-store';
import { auditRouter } from './audit';
import { webhooksPages } from './pages/webhooks-page';
import { flowsPage } from './pages/flows-page';
import { accountPages } from './pages/account-pages';
import { builderPages } from './pages/builder-page';
import { PUBLIC_DIR, createViews } from './pages/views';
import type { FlowStore } from '../flows/store';
import type { ProfileService } from '../audience/profiles';
import type { ListService } from '../audience/lists';
import { profilesRouter } from './profiles';
import { ProfileEvents } from '../audience/profile-events';
import { listsRouter } from './lists';
import type { SegmentService } from '../audience/segments';
import { segmentsRouter } from './segments';
import type { CatalogService } from '../audience/catalog';
import { catalogRouter } from './catalog';
import type { ApiMetrics } from './metrics';
import { routeBase } from './metrics';
import { probesRouter } from './probes';
import type { RunBacklog } from '../runs/backlog';
import { REFUSED_CHANGE, REFUSED_EVENT, admitRuns } from './backlog';
import { openApiRouter } from './openapi';
import { jsonBody } from './body-limits';
import { requestsPerClient } from './client-limits';
import { codecRouter } from './codec';
import { securityHeaders } from './security-headers';
import { DestinationStore } from '../db/destination-store';
import { destinationsRouter } from './destinations';

export interface ApiDeps {
  config: Config;
  db: Db;
  client: Client;
  /** The Temporal payload codec, served to the Web UI at /codec. */
  payloadCodec: PayloadCodec;
  flows: FlowService;
  events: EventService;
  runs: RunService;
  stepTools: StepTools;
  eventStore: EventStore;
  analytics: AnalyticsStore;
  resend: ResendService;
  flowStore: FlowStore;
  profiles: ProfileService;
  lists: ListService;
  accounts: Accounts;
  audit: AuditStore;
  segments: SegmentService;
  catalog: CatalogService;
  logger: Logger;
  metrics: ApiMetrics;
  /** Runs waiting for Temporal: run-starting routes refuse at its bound; the analytics page shows it. */
  backlog: RunBacklog;
}

/**
 * The JSON API's routers and where they are mounted, in order (the OpenAPI test walks them to
 * find every route). Pages and assets come after them in {@link createApp}.
 */
export function apiRouters(deps: ApiDeps): [mountPath: string, router: express.Router][] {
  const root = express.Router();
  const change = admitRuns(deps.backlog, REFUSED_CHANGE);
  root.use(probesRouter(deps));
  root.get('/metrics', (_req, res, next) => {
    deps.metrics.registry
      .metrics()
      .then((text) => res.type(deps.metrics.registry.contentType).send(text), next);
  });
  return [
    ['/api', accountsRouter(deps.accounts)],
    ['/', root],
    ['/api', openApiRouter()],
    ['/api/flows', flowsRouter(deps)],
    [
      '/api/events',
      eventsRouter(deps.events, deps.eventStore, admitRuns(deps.backlog, REFUSED_EVENT), () =>
        deps.metrics.eventIngested(),
      ),
    ],
    ['/api/profiles', profilesRouter(deps.profiles, new ProfileEvents(deps.db), change)],
    ['/api/lists', listsRouter(deps.lists, change)],
    ['/api/runs', runsRouter(deps.runs)],
    ['/api/segments', segmentsRouter(deps.segments)],
    ['/api/catalog', catalogRouter(deps.catalog, change)],
    ['/api/webhooks', webhooksRouter(deps)],
    ['/api/audit', auditRouter(deps.audit)],
    ['/api/destinations', destinationsRouter(new DestinationStore(deps.db))],
  ];
}

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', deps.config.api.trustProxy);
  app.use(requestLog(deps.logger));
  app.use(securityHeaders);
  app.use(deps.metrics.middleware());
  // Counted before any body is read: a refused request costs no parsing.
  app.use(requestsPerClient(deps.config.api.server.maxConnectionsPerClient));
  // Before the Origin and CSRF checks: the Web UI calls it cross-origin (see codec.ts for why that is safe).
  app.use(
    '/codec',
    codecRouter({ codec: deps.payloadCodec, accounts: deps.accounts, origins: deps.config.codec.origins }),
  );
  app.use(sameOriginWrites);
  app.use(jsonBody(deps.config.api.body));
  app.use(resolvePrincipal(deps.accounts));
  for (const [at, router] of apiRouters(deps)) app.use(at, routeBase, router);
  app.use('/assets', express.static(PUBLIC_DIR, { index: false, fallthrough: true, maxAge: 0 }));
  const render = createViews();
  app.use(accountPages({ accounts: deps.accounts, render }));
  app.use(builderPages({ flows: deps.flowStore, render }));
  app.use(
    webhooksPages({
      analytics: deps.analytics,
      flows: deps.flowStore,
      runs: deps.runs,
      backlog: deps.backlog,
      destinations: new DestinationStore(deps.db),
      render,
    }),
  );
  app.use(
    flowsPage({
      flows: deps.flowStore,
      analytics: deps.analytics,
      lists: deps.lists,
      segments: deps.segments,
      render,
    }),
  );

  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
