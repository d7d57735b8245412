import type { Server } from 'node:http';
import type { ConnectionLike } from '@temporalio/client';
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { openDatabase } from '../db';
import { DeliveryStore } from '../db/delivery-store';
import { EventStore } from '../db/event-store';
import { FlowStore } from '../flows/store';
import { LiveFlows } from '../flows/live-flows';
import { ConfigError, ConflictError } from '../errors';
import { EventService } from '../events/service';
import { FlowService } from '../flows/service';
import { filterRules } from './filter-rules';
import type { Logger } from '../logger';
import { RunService } from '../runs/service';
import { createSecretBox } from '../secrets/from-config';
import { StepTools } from '../flows/step-tools';
import { CatalogStore } from '../db/catalog-store';
import { TemplateRenderer } from '../templates';
import { liveCheckUrl } from '../webhooks/live-check';
import { checkDestination } from '../webhooks/outbound';
import { createDispatcher } from '../webhooks/send';
import { ResendService } from '../analytics/resend';
import { AnalyticsStore } from '../analytics/store';
import { createAccounts } from '../auth/accounts';
import { AuditStore } from '../db/audit-store';
import type { ListDirectory } from '../audience/segments';
import { SegmentService } from '../audience/segments';
import { ListStore } from '../db/list-store';
import { createApp } from './app';
import { createLimitedServer } from './client-limits';
import { ApiMetrics } from './metrics';
import { FlowEntries } from '../audience/entries';
import { RunLauncher } from '../audience/run-launcher';
import { RunStartQueue, newClaimant } from '../audience/run-start-queue';
import { ListService } from '../audience/lists';
import { CatalogService } from '../audience/catalog';
import { ProfileService } from '../audience/profiles';
import { DateSweeper } from '../audience/date-sweep';
import { RunStarter } from '../temporal/run-starter';
import { DateSchedules } from '../temporal/schedules';
import { clientConnectionOptions } from '../temporal/connection';
import { createPayloadCodec, dataConverterOf } from '../temporal/payload-codec';
import { RunBacklog } from '../runs/backlog';

/** The live URL check waits at most this long for the endpoint. */
const LIVE_CHECK_TIMEOUT_MS = 5000;
/** How often segments whose membership depends on the clock ("in the last N days") are recomputed. */
const SEGMENT_CLOCK_REFRESH_MS = 3_600_000;

/**
 * Stops listening and waits for requests in flight. Keep-alive connections are closed as soon as
 * they are idle (after their request answered); whatever is still open after `graceMs` is cut.
 */
async function stopAccepting(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const cut = setTimeout(() => server.closeAllConnections(), graceMs);
  server.closeIdleConnections();
  try {
    await closed;
  } finally {
    clearInterval(idle);
    clearTimeout(cut);
  }
}

export interface RunningApi {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** A worker running in the API's process (`node dist/host/api.js`, HOOKFLOW_API_WORKER). */
export interface HostedWorker {
  /** The worker's NativeConnection: a client on it can have runs started eagerly on the worker. */
  connection: ConnectionLike;
}

/** Builds the API's collaborators from config and listens. */
export async function startApi(config: Config, logger: Logger, hosted?: HostedWorker): Promise<RunningApi> {
  if (config.api.eagerStart && !hosted) {
    const problem =
      'HOOKFLOW_EAGER_START: the API has no worker of its own; start it as node dist/host/api.js with HOOKFLOW_API_WORKER=true';
    throw new ConfigError(`invalid configuration: ${problem}`, [problem]);
  }
  const db = await openDatabase(config.database);
  const secrets = createSecretBox(config, logger);
  // Lazy: the API starts and takes events in while Temporal is down (they wait in the runs outbox);
  // each call connects, and /ready says whether Temporal answers.
  const connection = Connection.lazy(clientConnectionOptions(config.temporal.address));
  // One codec for the client (history encrypted) and the codec server the Web UI decodes through.
  const payloadCodec = createPayloadCodec(config);
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverterOf(payloadCodec),
  });
  const flowStore = new FlowStore(db);
  const eventStore = new EventStore(db);
  const deliveryStore = new DeliveryStore(db);
  const renderer = new TemplateRenderer({ threads: 1 });
  const dispatcher = createDispatcher({
    connectTimeoutMs: Math.min(config.webhook.timeoutMs, 10_000),
    policy: config.outbound,
  });
  // Live checks always open a new connection, so every check performs a full TLS handshake.
  const checkDispatcher = createDispatcher({
    connectTimeoutMs: LIVE_CHECK_TIMEOUT_MS,
    policy: config.outbound,
    keepAlive: false,
  });
  const analytics = new AnalyticsStore(db);
  const accounts = createAccounts(db, secrets, { cacheMs: config.api.keyCacheMs });
  // First start: the initial owner comes from configuration (never from the repository).
  // Otherwise a one-time setup link is printed once the API listens (see below).
  if (config.owner && (await accounts.users.count()) === 0) {
    try {
      await accounts.users.create({ ...config.owner, role: 'owner' });
      logger.info({ email: config.owner.email }, 'initial owner created from HOOKFLOW_OWNER_EMAIL');
    } catch (err) {
      // Several API processes starting together on one PostgreSQL database: another created it.
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  const setupToken = await accounts.firstOwner.createToken();
  const runs = new RunService(client, eventStore, flowStore, deliveryStore, config);
  const metrics = new ApiMetrics();
  const backlog = new RunBacklog({
    db,
    max: config.runBacklogMax,
    logger,
    onCount: (n) => metrics.runsQueued(n),
  });
  await backlog.start();
  // Eager start: flow runs are started on the worker's connection, so Temporal can hand their first
  // workflow task to that worker in its answer instead of through a poll (README "Eager start").
  const starterClient =
    config.api.eagerStart && hosted
      ? new Client({
          connection: hosted.connection,
          namespace: config.temporal.namespace,
          dataConverter: dataConverterOf(payloadCodec),
        })
      : client;
  const starter = new RunStarter(
    starterClient,
    config.temporal.taskQueue,
    (eagerly) => metrics.runStarted(eagerly),
    config.api.eagerStart,
  );
  // The run starter: requests record runs and hand them over; they never wait for Temporal.
  const claimant = newClaimant('api');
  const runStarts = new RunStartQueue({
    db,
    launcher: new RunLauncher({ db, starter, config }),
    logger,
    claimant,
    ...config.runStarter,
  });
  const entries = new FlowEntries({ db, starter, config, logger, claimant, handoff: runStarts });
  const catalog = new CatalogService({ db, starter, logger });
  // Segments start segment-triggered flows through the same entries; list changes re-evaluate
  // the segments that have conditions on that list.
  const listDirectory: ListDirectory = {
    missing: async (ids) => {
      const known = await Promise.all(ids.map((id) => new ListStore(db).get(id)));
      return ids.filter((_, i) => known[i] === undefined);
    },
  };
  const segments = new SegmentService({ db, lists: listDirectory, logger, entries });
  // Profile changes, through the profile API or an event, may bring a date send due at once.
  // Every event asks which live flows its metric triggers: remembered briefly, shared with the date hook.
  const live = new LiveFlows({ ttlMs: config.api.liveFlowCacheMs });
  const dates = new DateSweeper({ db, entries, config, logger, live });
  await segments.resumeRecomputes();
  segments.scheduleClockRefresh(SEGMENT_CLOCK_REFRESH_MS);
  const lists = new ListService(db, entries, segments);
  const schedules = new DateSchedules({
    client,
    db,
    taskQueue: config.temporal.taskQueue,
    sweepSeconds: config.dates.sweepSeconds,
  });
  // A save whose schedule call failed (Temporal down) is put right at the next start, in the
  // background (Temporal may be down now too) and at each sweep until it succeeds once.
  // One at a time: with Temporal down an attempt can outlast a sweep interval.
  let reconciled = false;
  let reconciling: Promise<unknown> | undefined;
  const reconcile = () =>
    (reconciling ??= flowStore
      .list()
      .then((flows) => schedules.reconcile(flows))
      .then(
        () => (reconciled = true),
        (err: unknown) =>
          logger.warn({ err }, 'date flow schedules not reconciled; retried at the next sweep'),
      )
      .finally(() => (reconciling = undefined)));
  // Temporal up at start: reconciled before the API listens, as no flow save can race it then.
  const temporalUp = await client
    .withDeadline(Date.now() + 1000, () => client.workflowService.getSystemInfo({}))
    .then(
      () => true,
      () => false,
    );
  if (temporalUp) await reconcile();
  else logger.warn({ address: config.temporal.address }, 'Temporal is not answering; starting without it');
  const app = createApp({
    config,
    db,
    client,
    payloadCodec,
    logger,
    metrics,
    backlog,
    eventStore,
    flows: new FlowService({
      filters: filterRules,
      store: flowStore,
      events: eventStore,
      secrets,
      renderer,
      liveCheck: (url) =>
        liveCheckUrl(url, { dispatcher: checkDispatcher, timeoutMs: LIVE_CHECK_TIMEOUT_MS }),
      checkDestination: (url) => checkDestination(url, config.outbound),
      listExists: (id) => lists.exists(id),
      segmentExists: (id) => segments.exists(id),
      schedules,
      signingGraceSeconds: config.webhook.signingGraceSeconds,
    }),
    stepTools: new StepTools({
      events: eventStore,
      catalog: new CatalogStore(db),
      secrets,
      renderer,
      dispatcher,
      webhook: config.webhook,
    }),
    events: new EventService(db, entries, logger, segments, dates, live),
    profiles: new ProfileService(db, segments, dates),
    lists,
    segments,
    catalog,
    runs,
    analytics,
    flowStore,
    accounts,
    audit: new AuditStore(db),
    resend: new ResendService(deliveryStore, analytics, flowStore, client, config),
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = createLimitedServer(app, config.api.server);
    s.once('error', reject);
    s.listen(config.api.port, config.api.host, () => resolve(s));
  });
  // Runs a killed process or a failed worker start left queued are taken over by the starter's
  // poll once their claim lapses. Price-drop fan-outs recorded but not started (the start failed
  // after commit) are started by this sweep, now and every sweep interval after.
  runStarts.start();
  const sweep = () =>
    Promise.all([
      reconciled ? undefined : reconcile(),
      catalog.sweep().then(
        (n) => n > 0 && logger.info({ fanouts: n }, 'recorded price-drop fan-outs started by the sweep'),
        (err: unknown) => logger.warn({ err }, 'fan-out sweep failed; retried at the next interval'),
      ),
    ]);
  void sweep();
  const sweeper = setInterval(() => void sweep(), config.runSweepSeconds * 1000);
  sweeper.unref();
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : config.api.port;
  const host = config.api.host === '0.0.0.0' || config.api.host === '::' ? 'localhost' : config.api.host;
  if (setupToken) {
    // The link is a one-time credential: printed on the console for the operator, never logged.
    process.stdout.write(
      `\nNo user exists yet. Open this one-time link to create the first owner:\n  http://${host}:${port}/setup?token=${setupToken}\n` +
        '(or set HOOKFLOW_OWNER_EMAIL and HOOKFLOW_OWNER_PASSWORD and restart)\n\n',
    );
    logger.warn('no user exists yet: the one-time setup link is printed on the console');
  }
  return {
    server,
    url: `http://${config.api.host}:${port}`,
    async close() {
      clearInterval(sweeper);
      backlog.close();
      // One grace period for both: the requests in flight, then the starts in flight.
      const deadline = Date.now() + config.shutdownGraceSeconds * 1000;
      await stopAccepting(server, config.shutdownGraceSeconds * 1000);
      // After the last request: the runs it recorded are started, or their claims released.
      await runStarts.close(Math.max(0, deadline - Date.now()));
      await catalog.settle();
      await segments.close();
      await connection.close();
      await renderer.close();
      await dispatcher.close();
      await checkDispatcher.close();
      await db.destroy();
    },
  };
}
