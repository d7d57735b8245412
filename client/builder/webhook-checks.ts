import type { RetryOverride } from './types';

/**
 * The checks the panel runs as the user types, mirroring the API's static rules (src/webhooks/rules.ts
 * and retryOverrideSchema in src/flows/model.ts) so most mistakes show before Save; the API stays the
 * judge and its answer replaces these messages after a save.
 */

/** Why the URL cannot be used, or undefined when it passes the static rules. */
export function urlProblem(raw: string): string | undefined {
  const value = raw.trim();
  if (value === '') return 'Enter the URL of your endpoint (https://…).';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'This is not a valid URL: it must be absolute, like https://hooks.example.com/orders.';
  }
  if (url.protocol !== 'https:') {
    return `The URL must use https (got ${url.protocol.replace(/:$/, '')}).`;
  }
  if (url.hostname === '') return 'The URL needs a host name.';
  if (url.username !== '' || url.password !== '') {
    return 'The URL must not contain a user name or password; send credentials in a header.';
  }
  if (url.hash !== '' || value.includes('#')) return 'The URL must not contain a #fragment.';
  return undefined;
}

export interface RetryField {
  key: keyof RetryOverride;
  label: string;
  hint: string;
  min: number;
  max: number;
  integer: boolean;
}

/** The four retry settings with the bounds the API accepts. */
export const RETRY_FIELDS: readonly RetryField[] = [
  {
    key: 'maxAttempts',
    label: 'Attempts in all',
    hint: '1–1000, the first one included',
    min: 1,
    max: 1000,
    integer: true,
  },
  {
    key: 'initialIntervalMs',
    label: 'First wait (ms)',
    hint: 'before the second attempt, 1–86400000',
    min: 1,
    max: 86_400_000,
    integer: true,
  },
  {
    key: 'backoffCoefficient',
    label: 'Backoff factor',
    hint: 'each wait is the last one times this, 1–10',
    min: 1,
    max: 10,
    integer: false,
  },
  {
    key: 'maxIntervalMs',
    label: 'Longest wait (ms)',
    hint: 'no wait is longer, 1–604800000',
    min: 1,
    max: 7 * 86_400_000,
    integer: true,
  },
];

/** A step's endpoint protection limits (limits.* in src/flows/model.ts), with the bounds the API accepts. */
export interface LimitField {
  key: 'concurrency' | 'ratePerSecond';
  label: string;
  hint: string;
  min: number;
  max: number;
  integer: boolean;
}

export const LIMIT_FIELDS: readonly LimitField[] = [
  {
    key: 'concurrency',
    label: 'Requests at once',
    hint: 'to this destination, over every worker, 1–100000',
    min: 1,
    max: 100_000,
    integer: true,
  },
  {
    key: 'ratePerSecond',
    label: 'Requests per second',
    hint: 'started at most, 0–100000 (0: unlimited)',
    min: 0,
    max: 100_000,
    integer: false,
  },
];

/** A typed retry value: undefined when empty (the default applies), else the number or why it is refused. */
export function parseRetryValue(
  field: Pick<RetryField, 'min' | 'max' | 'integer'>,
  raw: string,
): { value?: number; problem?: string } {
  const text = raw.trim();
  if (text === '') return {};
  const n = Number(text);
  if (!Number.isFinite(n)) return { problem: 'must be a number' };
  if (field.integer && !Number.isInteger(n)) return { problem: 'must be a whole number' };
  if (n < field.min || n > field.max) return { problem: `must be between ${field.min} and ${field.max}` };
  return { value: n };
}

/** The rule across fields: the longest wait may not be shorter than the first. */
export function retryCrossProblem(r: RetryOverride): string | undefined {
  if (
    r.initialIntervalMs !== undefined &&
    r.maxIntervalMs !== undefined &&
    r.maxIntervalMs < r.initialIntervalMs
  ) {
    return 'The longest wait must be at least the first wait.';
  }
  return undefined;
}
