import type { Client } from '@temporalio/client';
import express from 'express';
import type { Config } from '../config';
import type { Db } from '../db';
import { pingDatabase } from '../db';
import { eventSchema } from '../events/schema';
import type { EventService } from '../events/service';
import { createFlowSchema, patchFlowSchema } from '../flows/model';
import type { FlowService, SaveResult } from '../flows/service';
import { toPublicFlow } from '../flows/service';
import type { StepTools } from '../flows/step-tools';
import { previewSchema } from '../flows/step-tools';
import { listVariables } from '../flows/variables';
import type { EventStore } from '../db/event-store';
import type { Logger } from '../logger';
import type { RunService } from '../runs/service';
import type { ResendService } from '../analytics/resend';
import type { AnalyticsStore } from '../analytics/store';
import { errorHandler, notFound, requestLog, sameOriginWrites } from './middleware';
import { webhooksRouter } from './webhooks';
import type { AccountService } from '../auth/service';
import { accountsRouter } from './accounts';
import { actorOf, requireAccess, requireWebhookAccess, resolvePrincipal } from './auth';
import type { AuditStore } from '../db/audit-store';
import { auditRouter } from './audit';
import { webhooksPages } from './pages/webhooks-page';
import { accountPages } from './pages/account-pages';
import { createViews } from './pages/views';
import type { FlowStore } from '../flows/store';
import { parseBody } from './validation';

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
  accounts: AccountService;
  audit: AuditStore;
  logger: Logger;
}

/** A saved flow with the per-webhook-step results of its save-time checks. */
const saved = ({ flow, checks }: SaveResult) => ({ ...toPublicFlow(flow), checks });

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

  app.post('/api/flows', requireAccess('flows:write'), async (req, res) => {
    res.status(201).json(saved(await deps.flows.create(parseBody(createFlowSchema, req.body), actorOf(res))));
  });
  app.get('/api/flows', requireAccess('flows:read'), async (_req, res) => {
    res.json({ flows: (await deps.flows.list()).map(toPublicFlow) });
  });
  app.get('/api/flows/:id', requireAccess('flows:read'), async (req, res) => {
    res.json(toPublicFlow(await deps.flows.get(req.params.id)));
  });
  app.patch('/api/flows/:id', requireAccess('flows:write'), async (req, res) => {
    const patch = parseBody(patchFlowSchema, req.body);
    res.json(saved(await deps.flows.patch(req.params.id, patch, actorOf(res))));
  });
  app.delete('/api/flows/:id', requireAccess('flows:write'), async (req, res) => {
    await deps.flows.delete(req.params.id, actorOf(res));
    res.status(204).end();
  });

  app.get('/api/flows/:id/variables', requireAccess('flows:read'), async (req, res) => {
    const flow = await deps.flows.get(req.params.id);
    res.json({ variables: await listVariables(flow, deps.eventStore) });
  });
  app.post('/api/flows/:id/steps/:stepId/preview', requireAccess('flows:read'), async (req, res) => {
    const flow = await deps.flows.get(req.params.id);
    const input = parseBody(previewSchema, req.body ?? {});
    res.json(await deps.stepTools.preview(flow, req.params.stepId, input));
  });
  app.post('/api/flows/:id/steps/:stepId/test', requireWebhookAccess, async (req, res) => {
    const flow = await deps.flows.get(req.params.id);
    const input = parseBody(previewSchema, req.body ?? {});
    res.json(await deps.stepTools.testSend(flow, req.params.stepId, input));
  });

  app.post('/api/events', requireAccess('events:write'), async (req, res) => {
    const { runs } = await deps.events.ingest(parseBody(eventSchema, req.body));
    res.status(202).json({ runs });
  });

  app.get('/api/runs/:runId', requireAccess('analytics:read'), async (req, res) => {
    res.json(await deps.runs.get(req.params.runId));
  });

  app.use('/api/webhooks', webhooksRouter(deps));
  app.use('/api/audit', auditRouter(deps.audit));
  const render = createViews();
  app.use(accountPages({ accounts: deps.accounts, render }));
  app.use(webhooksPages({ analytics: deps.analytics, flows: deps.flowStore, runs: deps.runs, render }));

  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
