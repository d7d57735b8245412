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
}

/** A request the API refuses with a 4xx status and a JSON body naming what was wrong. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly FieldProblem[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class ValidationError extends HttpError {
  constructor(details: readonly FieldProblem[], message = 'the request is not valid') {
    super(422, 'validation_failed', message, details);
  }
}

export class NotFoundError extends HttpError {
  constructor(what: string) {
    super(404, 'not_found', `${what} was not found`);
  }
}
