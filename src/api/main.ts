import { loadConfig } from '../config';
import { ConfigError } from '../errors';
import { createLogger } from '../logger';
import { runApiProcess } from './api-process';

async function main(): Promise<void> {
  const config = loadConfig();
  // The worker's code is not this entry's to import (README "Architecture": layers): the entry
  // point above both hosts it.
  if (config.api.hostsWorker) {
    const problem =
      'HOOKFLOW_API_WORKER: an API with a worker in its process starts as node dist/host/api.js (dist/api/main.js runs the API alone)';
    throw new ConfigError(`invalid configuration: ${problem}`, [problem]);
  }
  await runApiProcess(config, createLogger('api', config.logLevel));
}

main().catch((err: unknown) => {
  process.stderr.write(
    `hookflow API failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
