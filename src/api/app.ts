import type { Client } from '@temporalio/client';
import express from 'express';
import type { Config } from '../config';
import type { Db } from '../db';
import { pingDatabase } from '../db';
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

export interface ApiDeps {
  config: Config;
  db: Db;
  client: Client;
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
}

const HEALTH_DEADLINE_MS = 2000;

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', deps.config.api.trustProxy);
  app.use(requestLog(deps.logger));
  app.use(sameOriginWrites);
  app.use(express.json({ limit: '512kb', strict: false }));
  app.use(resolvePrincipal(deps.accounts));
  app.use('/api', accountsRouter(deps.accounts));

  app.get('/health', async (_req, res) => {
    const checks = { database: 'ok', temporal: 'ok' };
    await pingDatabase(deps.db).catch(() => (checks.database = 'unavailable'));
    await deps.client
      .withDeadline(Date.now() + HEALTH_DEADLINE_MS, () => deps.client.workflowService.getSystemInfo({}))
      .catch(() => (checks.temporal = 'unavailable'));
    const ok = checks.database === 'ok' && checks.temporal === 'ok';
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', ...checks });
  });

  app.use('/api/flows', flowsRouter(deps));
  app.use('/api/events', eventsRouter(deps.events, deps.eventStore));
  app.use('/api/profiles', profilesRouter(deps.profiles, new ProfileEvents(deps.db)));
  app.use('/api/lists', listsRouter(deps.lists));
  app.use('/api/runs', runsRouter(deps.runs));
  app.use('/api/segments', segmentsRouter(deps.segments));
  app.use('/api/catalog', catalogRouter(deps.catalog));
  app.use('/api/webhooks', webhooksRouter(deps));
  app.use('/api/audit', auditRouter(deps.audit));
  app.use('/assets', express.static(PUBLIC_DIR, { index: false, fallthrough: true, maxAge: 0 }));
  const render = createViews();
  app.use(accountPages({ accounts: deps.accounts, render }));
  app.use(builderPages({ flows: deps.flowStore, render }));
  app.use(webhooksPages({ analytics: deps.analytics, flows: deps.flowStore, runs: deps.runs, render }));
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
