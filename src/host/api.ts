import { runApiProcess } from '../api/api-process';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { createWorker, installRuntimeLogger } from '../worker/worker';

/**
 * `node dist/host/api.js`: the API process, with a hookflow worker in it when HOOKFLOW_API_WORKER
 * is true (the same worker as `dist/worker/main.js`, on the same task queue); without it, the same
 * as `dist/api/main.js`. A worker here lets the API start runs eagerly (HOOKFLOW_EAGER_START).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('api', config.logLevel);
  if (!config.api.hostsWorker) return runApiProcess(config, logger);
  // The SDK's logs through pino; its own metrics stay with the worker processes (one port each).
  await installRuntimeLogger(
    { ...config, metrics: { ...config.metrics, temporalPort: undefined } },
    logger.child({ component: 'worker' }),
  );
  const running = await createWorker(config, logger.child({ component: 'worker' }));
  // Resolves once a shutdown was asked and in-flight tasks have finished; a worker that fails
  // takes the process down, so that it is restarted as a worker process would be.
  const ran = running.worker.run().catch((err: unknown) => {
    logger.fatal({ err }, 'the worker in the API process failed');
    process.exit(1);
  });
  await runApiProcess(config, logger, {
    connection: running.connection,
    async stop() {
      running.worker.shutdown();
      await ran;
      await running.close();
    },
  });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `hookflow API failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
