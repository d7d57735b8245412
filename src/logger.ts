import pino from 'pino';
import type { Config } from './config';

export type Logger = pino.Logger;

/**
 * Paths redacted from every log line. Header values are secrets: they are never logged, and this
 * is the second line of defence should an object carrying them reach a logger.
 */
const REDACT = [
  'headers',
  '*.headers',
  '*.*.headers',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
];

export function createLogger(
  name: string,
  level: Config['logLevel'],
  destination?: pino.DestinationStream,
): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}
