import os from 'node:os';
import { loadConfig } from '../config';
import { describeLocation } from '../db';
import { createLogger } from '../logger';
import { serveMetrics } from './metrics';
import { createWorker, installRuntimeLogger } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('worker', config.logLevel);
  const temporalMetrics = await installRuntimeLogger(config, logger);
  const running = await createWorker(config, logger);
  const metrics =
    config.metrics.workerPort === undefined
      ? undefined
      : await serveMetrics(running.metrics.registry, config.metrics.host, config.metrics.workerPort);
  // First signal: stop polling and let in-flight activities finish within the grace period.
  // A second one: the operator does not want to wait.
  let stopping = false;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: worker exiting at once');
      process.exit(128 + os.constants.signals[signal]);
    }
    stopping = true;
    logger.info(
      { signal, graceSeconds: config.shutdownGraceSeconds },
      'worker stopping: no new tasks, in-flight activities may finish',
    );
    try {
      running.worker.shutdown();
    } catch (err) {
      // Not running yet (or already stopping): nothing in flight to wait for.
      logger.warn({ err }, 'worker was not running; exiting');
      process.exit(0);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  logger.info(
    {
      taskQueue: config.temporal.taskQueue,
      temporal: config.temporal.address,
      namespace: config.temporal.namespace,
      metrics: metrics?.url,
      temporalMetrics,
      database: describeLocation(config.database),
    },
    'worker started',
  );
  // Worker.run resolves once shutdown was asked and in-flight tasks have finished (or the grace
  // period cancelled them).
  await running.worker.run();
  await metrics?.close();
  await running.close();
  logger.info('worker stopped');
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `hookflow worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
