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

/** A request the API refuses with a 4xx status and a JSON body naming what was wrong. */
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

  /** Fields added next to `error` in the response body, e.g. the webhook `checks` of a refused save. */
  readonly extra: Record<string, unknown> | undefined;
}

export class ValidationError extends HttpError {
  constructor(
    details: readonly FieldProblem[],
    message = 'the request is not valid',
    extra?: Record<string, unknown>,
  ) {
    super(422, 'validation_failed', message, details, { extra });
  }
}

export class NotFoundError extends HttpError {
  constructor(what: string) {
    super(404, 'not_found', `${what} was not found`);
  }
}
