/** A setting is missing or malformed; raised at start-up before anything connects. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly problems: readonly string[],
  ) {
    super(message);
  }
}

/** One field of a request that broke a rule. */
export interface FieldProblem {
  path: string;
  message: string;
  /** For template problems: where, 1-based, and the rendered text around a JSON error. */
  line?: number;
  column?: number;
  excerpt?: string;
}

/**
 * What kind of refusal a domain error is. Services say *what* went wrong; the API alone turns the
 * kind into an HTTP status (`src/api/errors.ts`), so no service knows about HTTP.
 */
export const ERROR_KINDS = [
  'invalid',
  'malformed',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'too_large',
  'rate_limited',
  'unavailable',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** A refusal raised by a service: a kind, a stable `code`, a message and the fields at fault. */
export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  /** Fields added next to `error` in the response body, e.g. the webhook `checks` of a refused save. */
  readonly extra: Record<string, unknown> | undefined;
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details: readonly FieldProblem[] = [],
    options?: { cause?: unknown; extra?: Record<string, unknown> },
  ) {
    super(message, options);
    this.extra = options?.extra;
  }
}

/** The request broke one or more field rules. */
export class ValidationError extends DomainError {
  override readonly name = 'ValidationError';
  constructor(
    details: readonly FieldProblem[],
    message = 'the request is not valid',
    extra?: Record<string, unknown>,
    code = 'validation_failed',
  ) {
    super('invalid', code, message, details, { extra });
  }
}

/** The thing asked for does not exist (or the caller may not know it does). */
export class NotFoundError extends DomainError {
  override readonly name = 'NotFoundError';
  constructor(what: string, code = 'not_found') {
    super('not_found', code, `${what} was not found`);
  }
}

/** The request contradicts the current state (a duplicate, a step out of order, the last owner). */
export class ConflictError extends DomainError {
  override readonly name = 'ConflictError';
  constructor(code: string, message: string, extra?: Record<string, unknown>) {
    super('conflict', code, message, [], { extra });
  }
}

/** Credentials are missing or wrong. */
export class UnauthenticatedError extends DomainError {
  override readonly name = 'UnauthenticatedError';
  constructor(code: string, message: string, extra?: Record<string, unknown>) {
    super('unauthenticated', code, message, [], { extra });
  }
}

/** The caller is known but may not do this. */
export class ForbiddenError extends DomainError {
  override readonly name = 'ForbiddenError';
  constructor(code: string, message: string, extra?: Record<string, unknown>) {
    super('forbidden', code, message, [], { extra });
  }
}

/** Too many attempts: try again after `retryAfterSeconds` (sent in the body and as `Retry-After`). */
export class RateLimitedError extends DomainError {
  override readonly name = 'RateLimitedError';
  constructor(
    code: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('rate_limited', code, message, [], { extra: { retryAfterSeconds } });
  }
}

/**
 * Too many runs are recorded and waiting for Temporal: the request was refused before anything was
 * written, so sending it again after `retryAfterSeconds` is safe (sent in the body and as `Retry-After`).
 */
export class BacklogFullError extends DomainError {
  override readonly name = 'BacklogFullError';
  constructor(
    message: string,
    readonly queued: number,
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super('unavailable', 'backlog_full', message, [], { extra: { retryAfterSeconds, queued, limit } });
  }
}

/**
 * A refusal decided in the HTTP layer itself (no route, a bad body, a refused origin), where the
 * status is the point. Services raise the {@link DomainError} subclasses instead.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly FieldProblem[] = [],
    options?: { cause?: unknown; extra?: Record<string, unknown> },
  ) {
    super(message, options);
    this.extra = options?.extra;
  }

  /** Fields added next to `error` in the response body. */
  readonly extra: Record<string, unknown> | undefined;
}
