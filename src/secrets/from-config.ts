import { loadSecretKeys, SecretBox } from './index';

/** The settings the box is built from (`Config` has both), named here so secrets imports no config. */
export interface SecretSettings {
  /** `HOOKFLOW_SECRET_KEYS`; unset means a development key kept in `dataDir`. */
  secretKeys?: string | undefined;
  dataDir: string;
}

/** Where the development-key warning goes (a pino logger fits). */
export interface WarningLogger {
  warn(details: object, message: string): void;
}

/** Builds the SecretBox from `HOOKFLOW_SECRET_KEYS`, warning when a development key is in use. */
export function createSecretBox(settings: SecretSettings, logger: WarningLogger): SecretBox {
  const loaded = loadSecretKeys(settings.secretKeys, settings.dataDir);
  if (loaded.source === 'dev-file') {
    logger.warn(
      { file: loaded.file, generated: loaded.generated },
      'HOOKFLOW_SECRET_KEYS is not set: header values are encrypted with a development key kept in the data folder; set HOOKFLOW_SECRET_KEYS in production',
    );
  }
  return new SecretBox(loaded.keys);
}
