import fs from 'node:fs';
import path from 'node:path';
import type { LogLevel } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { PriceDropFanOut } from '../audience/catalog';
import { createEligibilityJudge } from '../audience/eligibility';
import { DateSweeper } from '../audience/date-sweep';
import { FlowEntries } from '../audience/entries';
import { newClaimant } from '../audience/run-start-queue';
import type { Config } from '../config';
import type { Db } from '../db';
import { openDatabase } from '../db';
import { DeliveryStore } from '../db/delivery-store';
import { AttemptSpool } from '../db/attempt-spool';
import { DestinationStore } from '../db/destination-store';
import { DestinationGate } from '../activities/destination-gate';
import { FlowStore } from '../flows/store';
import type { Logger } from '../logger';
import { createSecretBox } from '../secrets/from-config';
import { TemplateRenderer } from '../templates';
import { createDispatcher } from '../webhooks/send';
import { RunStarter } from '../temporal/run-starter';
import { freePort } from '../temporal/ports';
import { WorkerMetrics } from './metrics';
import { clientConnectionOptions } from '../temporal/connection';
import { createPayloadCodec, dataConverterOf } from '../temporal/payload-codec';

/** Prebuilt by `npm run build` so a worker starts in a second instead of bundling with webpack. */
const PREBUILT_BUNDLE = path.join(__dirname, '..', 'workflow-bundle.js');

/** How often attempts spooled after a database failure are replayed. */
const SPOOL_DRAIN_MS = 10_000;

const TEMPORAL_LEVELS: Record<Config['logLevel'], LogLevel> = {
  fatal: 'ERROR',
  error: 'ERROR',
  warn: 'WARN',
  info: 'INFO',
  debug: 'DEBUG',
  trace: 'TRACE',
  silent: 'ERROR',
};

/**
 * Routes the SDK's own logs (and `log` calls in workflows and activities) through pino and, when
 * `HOOKFLOW_TEMPORAL_METRICS_PORT` is set, serves the SDK's worker metrics for Prometheus. Signals
 * are left to the worker's entry point, which drains in-flight activities (see main.ts).
 * Returns the address of the SDK's metrics, if on.
 */
export async function installRuntimeLogger(config: Config, logger: Logger): Promise<string | undefined> {
  const port =
    config.metrics.temporalPort === 0 ? await freePort(config.metrics.host) : config.metrics.temporalPort;
  const bindAddress =
    port === undefined
      ? undefined
      : `${config.metrics.host.includes(':') ? `[${config.metrics.host}]` : config.metrics.host}:${port}`;
  Runtime.install({
    logger: new DefaultLogger(TEMPORAL_LEVELS[config.logLevel], (entry) => {
      const level = entry.level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      logger[level](entry.meta ?? {}, entry.message);
    }),
    shutdownSignals: [],
    ...(bindAddress
      ? { telemetryOptions: { metrics: { metricPrefix: 'hookflow_temporal_', prometheus: { bindAddress } } } }
      : {}),
  });
  return bindAddress && `http://${bindAddress}/metrics`;
}

export interface RunningWorker {
  worker: Worker;
  /** The worker's connection: a client on it can start runs eagerly on this worker. */
  connection: NativeConnection;
  db: Db;
  metrics: WorkerMetrics;
  close(): Promise<void>;
}

export async function createWorker(config: Config, logger: Logger): Promise<RunningWorker> {
  const db = await openDatabase(config.database);
  const secrets = createSecretBox(config, logger);
  const dispatcher = createDispatcher({
    connectTimeoutMs: Math.min(config.webhook.timeoutMs, 10_000),
    policy: config.outbound,
  });
  const renderer = new TemplateRenderer({ threads: config.worker.renderThreads });
  const spool = new AttemptSpool(config.dataDir);
  const metrics = new WorkerMetrics(() => spool.pending());
  const deliveries = new DeliveryStore(db);
  const protection = config.webhook.protection;
  const destinationStore = new DestinationStore(db);
  // A slot is held at most the attempt's timeout and the margin Temporal gives it (activity-options.ts).
  const destinations =
    protection &&
    new DestinationGate(destinationStore, protection, config.webhook.timeoutMs + 15_000, (to) =>
      metrics.destinationTransition(to),
    );
  metrics.watchOpenDestinations(() => destinationStore.countOpen());
  // Date sweeps and price-drop fan-outs start runs from the worker, through the same entries as the
  // API, inline (see FlowEntries.start); what they cannot start, an API process takes over.
  const clientConnection = await Connection.connect(clientConnectionOptions(config.temporal.address));
  // Profile and event data in workflow history are encrypted: the worker and every client share one codec.
  const dataConverter = dataConverterOf(createPayloadCodec(config));
  const client = new Client({
    connection: clientConnection,
    namespace: config.temporal.namespace,
    dataConverter,
  });
  const entries = new FlowEntries({
    db,
    starter: new RunStarter(client, config.temporal.taskQueue, () => metrics.runStarted()),
    config,
    logger,
    claimant: newClaimant('worker'),
  });
  const activities = createActivities({
    metrics,
    dateSweeper: new DateSweeper({ db, entries, config, logger }),
    flows: new FlowStore(db),
    deliveries,
    spool,
    secrets,
    dispatcher,
    renderer,
    webhook: config.webhook,
    ...(destinations ? { destinations } : {}),
    eligibility: createEligibilityJudge({ db, defaultTimezone: config.dates.defaultTimezone }),
    priceDrops: new PriceDropFanOut({ db, entries, logger }),
  });
  // The polling connection is Temporal's Rust core, which keeps its own reconnect policy (it takes
  // no gRPC channel arguments); the outage test sees the worker deliver again once Temporal is back.
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const workflowSource = fs.existsSync(PREBUILT_BUNDLE)
    ? { workflowBundle: { codePath: PREBUILT_BUNDLE } }
    : { workflowsPath: require.resolve('../workflows') };
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities,
    dataConverter,
    ...workflowSource,
    // The SDK's default follows the heap limit (over 2,000 runs on a 4 GiB heap), and with many runs
    // parked in delays that cache, not the runs, is what fills the worker's memory.
    maxCachedWorkflows: config.worker.cachedWorkflows,
    // A restarted worker picks up its runs quickly instead of waiting on a dead sticky queue.
    stickyQueueScheduleToStartTimeout: '2s',
    // On shutdown, in-flight activities get this long to finish before they are cancelled.
    shutdownGraceTime: config.shutdownGraceSeconds * 1000,
    // Then a little more for cancelled activities to record their attempt, before giving up.
    shutdownForceTime: config.shutdownGraceSeconds * 1000 + 10_000,
  });
  // Reconcile attempts the database refused earlier (see AttemptSpool).
  const reconcile = setInterval(() => {
    if (protection) {
      destinationStore
        .prune(protection.breaker.windowMs)
        .catch((err: unknown) => logger.warn({ err }, 'lapsed destination leases not pruned yet'));
    }
    spool.drain(deliveries).then(
      (n) => n > 0 && logger.info({ records: n }, 'spooled webhook attempts recorded'),
      (err: unknown) => logger.warn({ err }, 'spooled webhook attempts not recorded yet'),
    );
  }, SPOOL_DRAIN_MS);
  reconcile.unref();
  return {
    worker,
    connection,
    db,
    metrics,
    async close() {
      clearInterval(reconcile);
      await connection.close();
      await clientConnection.close();
      await dispatcher.close();
      await renderer.close();
      await db.destroy();
    },
  };
}
