import type { Config } from '../config';
import type { Logger } from '../logger';
import { loadSecretKeys, SecretBox } from './index';

/** Builds the SecretBox from `HOOKFLOW_SECRET_KEYS`, warning when a development key is in use. */
export function createSecretBox(config: Config, logger: Logger): SecretBox {
  const loaded = loadSecretKeys(config.secretKeys, config.dataDir);
  if (loaded.source === 'dev-file') {
    logger.warn(
      { file: loaded.file, generated: loaded.generated },
      'HOOKFLOW_SECRET_KEYS is not set: header values are encrypted with a development key kept in the data folder; set HOOKFLOW_SECRET_KEYS in production',
    );
  }
  return new SecretBox(loaded.keys);
}
