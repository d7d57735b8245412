import os from 'node:os';
import { loadConfig } from '../config';
import { describeLocation } from '../db';
import { createLogger } from '../logger';
import { startApi } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('api', config.logLevel);
  const api = await startApi(config, logger);
  logger.info({ url: api.url, database: describeLocation(config.database) }, 'API listening');
  // First signal: stop accepting, finish the requests in flight, close the database and Temporal
  // connections. A second one: the operator does not want to wait.
  let stopping = false;
  const stop = (signal: 'SIGINT' | 'SIGTERM') => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: API exiting at once');
      process.exit(128 + os.constants.signals[signal]);
    }
    stopping = true;
    logger.info({ signal, graceSeconds: config.shutdownGraceSeconds }, 'API stopping');
    api.close().then(
      () => {
        logger.info('API stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'API did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `hookflow API failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
