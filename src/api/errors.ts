import type { Response } from 'express';
import type { ErrorKind, FieldProblem } from '../errors';
import { BacklogFullError, DomainError, HttpError, RateLimitedError } from '../errors';

/** The one place a domain error's kind becomes an HTTP status. */
export const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  invalid: 422,
  malformed: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
};

/** The JSON body of every refusal: `{ error: { code, message, details }, ...extra }`. */
export function errorBody(
  code: string,
  message: string,
  details: readonly FieldProblem[] = [],
  extra?: Record<string, unknown>,
): Record<string, unknown> {
  return { error: { code, message, details }, ...extra };
}

/**
 * Answers a refusal raised by a service ({@link DomainError}) or by the HTTP layer
 * ({@link HttpError}); false when `err` is neither.
 */
export function sendRefusal(res: Response, err: unknown): boolean {
  if (err instanceof DomainError) {
    if (err instanceof RateLimitedError || err instanceof BacklogFullError)
      res.setHeader('Retry-After', String(err.retryAfterSeconds));
    res.status(STATUS_OF_KIND[err.kind]).json(errorBody(err.code, err.message, err.details, err.extra));
    return true;
  }
  if (err instanceof HttpError) {
    res.status(err.status).json(errorBody(err.code, err.message, err.details, err.extra));
    return true;
  }
  return false;
}

/** The HTTP status a refusal would be answered with, for code that reports rather than responds. */
export function statusOf(err: DomainError | HttpError): number {
  return err instanceof DomainError ? STATUS_OF_KIND[err.kind] : err.status;
}
