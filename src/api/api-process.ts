import os from 'node:os';
import type { Config } from '../config';
import { describeLocation } from '../db';
import type { Logger } from '../logger';
import type { HostedWorker } from './server';
import { startApi } from './server';

/** A worker in the API's process, stopped after the API (its in-flight tasks finish first). */
export interface ProcessWorker extends HostedWorker {
  stop(): Promise<void>;
}

/**
 * The API process: listens, and on the first signal stops accepting, finishes the requests in
 * flight, closes the database and Temporal connections (then stops the process's worker, if it
 * hosts one). A second signal: the operator does not want to wait.
 */
export async function runApiProcess(config: Config, logger: Logger, worker?: ProcessWorker): Promise<void> {
  const api = await startApi(config, logger, worker);
  logger.info(
    {
      url: api.url,
      database: describeLocation(config.database),
      ...(worker ? { worker: config.temporal.taskQueue, eagerStart: config.api.eagerStart } : {}),
    },
    'API listening',
  );
  let stopping = false;
  const stop = (signal: 'SIGINT' | 'SIGTERM') => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: API exiting at once');
      process.exit(128 + os.constants.signals[signal]);
    }
    stopping = true;
    logger.info({ signal, graceSeconds: config.shutdownGraceSeconds }, 'API stopping');
    api
      .close()
      .then(() => worker?.stop())
      .then(
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
