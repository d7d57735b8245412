import { loadConfig } from '../config';
import { describeLocation } from '../db';
import { createLogger } from '../logger';
import { createWorker, installRuntimeLogger } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('worker', config.logLevel);
  installRuntimeLogger(config, logger);
  const running = await createWorker(config, logger);
  logger.info(
    {
      taskQueue: config.temporal.taskQueue,
      temporal: config.temporal.address,
      namespace: config.temporal.namespace,
      database: describeLocation(config.database),
    },
    'worker started',
  );
  // Worker.run resolves after SIGINT/SIGTERM, once in-flight tasks have finished.
  await running.worker.run();
  await running.close();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(
    `hookflow worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
