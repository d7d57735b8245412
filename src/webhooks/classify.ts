/**
 * How one webhook attempt ended, and what hookflow does about it. Pure: the same inputs always
 * give the same class, which the activity turns into success, a retry or a skip.
 */
export type OutcomeClass = 'delivered' | 'retryable' | 'non_retryable';

/**
 * Every stable name of a failure that is not an HTTP answer, with the type of the Temporal
 * `ApplicationFailure` an attempt that ends with it raises (shown in the Temporal Web UI).
 */
export const ERROR_CLASSES = {
  redirect: 'WebhookRedirect',
  template: 'WebhookTemplateError',
  invalid_url: 'WebhookInvalidUrl',
  step_missing: 'WebhookStepMissing',
  secret_unavailable: 'WebhookSecretUnavailable',
  // The attempt's write-ahead record could not be written, so nothing was sent.
  record_unavailable: 'WebhookRecordUnavailable',
  blocked_destination: 'WebhookNetworkError',
  tls_self_signed: 'WebhookTlsError',
  tls_unknown_issuer: 'WebhookTlsError',
  tls_expired: 'WebhookTlsError',
  tls_not_yet_valid: 'WebhookTlsError',
  tls_hostname_mismatch: 'WebhookTlsError',
  tls_revoked: 'WebhookTlsError',
  tls_invalid: 'WebhookTlsError',
  tls_handshake: 'WebhookTlsError',
  connection_refused: 'WebhookNetworkError',
  connection_reset: 'WebhookNetworkError',
  dns_failure: 'WebhookNetworkError',
  network_unreachable: 'WebhookNetworkError',
  timeout: 'WebhookNetworkError',
  socket_closed: 'WebhookNetworkError',
  invalid_response: 'WebhookNetworkError',
  network_error: 'WebhookNetworkError',
} as const;

export type ErrorClass = keyof typeof ERROR_CLASSES;

/** The failure types of an attempt that did not deliver: by error class, else by HTTP status. */
export type WebhookFailureType =
  (typeof ERROR_CLASSES)[ErrorClass] | 'WebhookServerError' | 'WebhookRejected';

export interface AttemptOutcome {
  class: OutcomeClass;
  /** One line a user can act on; never contains header values. */
  reason: string;
  httpStatus?: number;
  /** A stable name for a failure that is not an HTTP answer, e.g. `connection_refused`, `tls_self_signed`. */
  errorClass?: ErrorClass;
  /** Delay asked by `Retry-After`, already bounded. */
  retryAfterMs?: number;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function statusLine(status: number): string {
  const text = STATUS_TEXT[status];
  return text ? `HTTP ${status} ${text}` : `HTTP ${status}`;
}

/**
 * Parses `Retry-After` as delay-seconds or an HTTP date, relative to `now`; undefined when absent
 * or malformed. Bounded to `[0, maxMs]`.
 */
export function parseRetryAfter(value: string | undefined, now: number, maxMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), maxMs);
}

export interface ResponseFacts {
  status: number;
  location?: string;
  retryAfter?: string;
}

export function classifyResponse(res: ResponseFacts, now: number, retryAfterMaxMs: number): AttemptOutcome {
  const { status } = res;
  const line = statusLine(status);
  if (status >= 200 && status < 300) return { class: 'delivered', reason: line, httpStatus: status };
  if (status >= 300 && status < 400) {
    const where = res.location ? `redirects to ${res.location}` : 'redirects (without a Location header)';
    return {
      class: 'non_retryable',
      reason: `${line}: the URL ${where}; use the final URL (redirects are not followed)`,
      httpStatus: status,
      errorClass: 'redirect',
    };
  }
  if (status === 408 || status === 429 || status >= 500) {
    const outcome: AttemptOutcome = { class: 'retryable', reason: line, httpStatus: status };
    if (status === 429 || status === 503) {
      const after = parseRetryAfter(res.retryAfter, now, retryAfterMaxMs);
      if (after !== undefined) {
        outcome.retryAfterMs = after;
        outcome.reason = `${line} (Retry-After ${Math.round(after / 1000)} s)`;
      }
    }
    return outcome;
  }
  return {
    class: 'non_retryable',
    reason: `${line}: the endpoint rejected the request; fix the endpoint or the template, then resend`,
    httpStatus: status,
  };
}

/** Node/undici error codes that mean "the certificate is not acceptable", with what to tell the user. */
const TLS_ERRORS: Record<string, { errorClass: ErrorClass; reason: string }> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: { errorClass: 'tls_self_signed', reason: 'the certificate is self-signed' },
  SELF_SIGNED_CERT_IN_CHAIN: {
    errorClass: 'tls_self_signed',
    reason: 'the certificate chain ends in a self-signed certificate that is not trusted',
  },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: {
    errorClass: 'tls_unknown_issuer',
    reason: 'the certificate was issued by an unknown authority',
  },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: {
    errorClass: 'tls_unknown_issuer',
    reason: 'the certificate was issued by an unknown authority',
  },
  UNABLE_TO_GET_ISSUER_CERT: {
    errorClass: 'tls_unknown_issuer',
    reason: 'the certificate was issued by an unknown authority',
  },
  CERT_HAS_EXPIRED: { errorClass: 'tls_expired', reason: 'the certificate has expired' },
  CERT_NOT_YET_VALID: { errorClass: 'tls_not_yet_valid', reason: 'the certificate is not valid yet' },
  ERR_TLS_CERT_ALTNAME_INVALID: {
    errorClass: 'tls_hostname_mismatch',
    reason: 'the certificate does not match the host name',
  },
  CERT_REVOKED: { errorClass: 'tls_revoked', reason: 'the certificate has been revoked' },
  CERT_SIGNATURE_FAILURE: { errorClass: 'tls_invalid', reason: 'the certificate signature is invalid' },
};

const TRANSIENT_ERRORS: Record<string, { errorClass: ErrorClass; reason: string }> = {
  ECONNREFUSED: { errorClass: 'connection_refused', reason: 'connection refused' },
  ECONNRESET: { errorClass: 'connection_reset', reason: 'connection reset by the server' },
  EPIPE: { errorClass: 'connection_reset', reason: 'connection closed while sending' },
  ENOTFOUND: { errorClass: 'dns_failure', reason: 'the host name could not be resolved' },
  EAI_AGAIN: {
    errorClass: 'dns_failure',
    reason: 'the host name could not be resolved (temporary DNS failure)',
  },
  EHOSTUNREACH: { errorClass: 'network_unreachable', reason: 'the host is unreachable' },
  ENETUNREACH: { errorClass: 'network_unreachable', reason: 'the network is unreachable' },
  ETIMEDOUT: { errorClass: 'timeout', reason: 'the connection timed out' },
  UND_ERR_CONNECT_TIMEOUT: { errorClass: 'timeout', reason: 'the connection timed out' },
  UND_ERR_HEADERS_TIMEOUT: { errorClass: 'timeout', reason: 'the endpoint did not answer in time' },
  UND_ERR_BODY_TIMEOUT: { errorClass: 'timeout', reason: 'the endpoint did not finish its response in time' },
  UND_ERR_SOCKET: {
    errorClass: 'socket_closed',
    reason: 'the connection closed before the response was complete',
  },
  UND_ERR_CLOSED: {
    errorClass: 'socket_closed',
    reason: 'the connection closed before the response was complete',
  },
  ECONNABORTED: { errorClass: 'socket_closed', reason: 'the connection was aborted' },
  // A hostile or broken endpoint: the response is refused unread past what undici bounds.
  UND_ERR_HEADERS_OVERFLOW: {
    errorClass: 'invalid_response',
    reason: 'the response headers are larger than 16 KiB; hookflow stopped reading them',
  },
  HPE_HEADER_OVERFLOW: {
    errorClass: 'invalid_response',
    reason: 'the response headers are larger than 16 KiB; hookflow stopped reading them',
  },
};

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    const e = cur as { code?: unknown; name?: unknown; errors?: unknown; cause?: unknown };
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.name === 'string') codes.push(e.name);
    // Happy-eyeballs connects raise an AggregateError holding one error per address.
    if (Array.isArray(e.errors)) for (const inner of e.errors) codes.push(...errorCodes(inner));
    cur = e.cause;
  }
  return codes;
}

/** The message of an outbound-policy refusal anywhere in the error's causes. */
function findBlocked(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    const e = cur as { code?: unknown; message?: unknown; cause?: unknown };
    if (e.code === 'ERR_HOOKFLOW_BLOCKED_DESTINATION' && typeof e.message === 'string') return e.message;
    cur = e.cause;
  }
  return undefined;
}

/** Classifies an error thrown while connecting, sending or reading the response. */
export function classifyError(err: unknown, timeoutMs: number): AttemptOutcome {
  const codes = errorCodes(err);
  const blocked = findBlocked(err);
  if (blocked) return { class: 'non_retryable', reason: blocked, errorClass: 'blocked_destination' };
  for (const code of codes) {
    const tls = TLS_ERRORS[code];
    if (tls) return { class: 'non_retryable', reason: `TLS: ${tls.reason}`, errorClass: tls.errorClass };
  }
  if (codes.some((c) => c === 'TimeoutError')) {
    return { class: 'retryable', reason: `no response within ${timeoutMs} ms`, errorClass: 'timeout' };
  }
  for (const code of codes) {
    const transient = TRANSIENT_ERRORS[code];
    if (transient) return { class: 'retryable', reason: transient.reason, errorClass: transient.errorClass };
  }
  if (codes.some((c) => c.startsWith('HPE_'))) {
    return { class: 'retryable', reason: 'the response is not valid HTTP', errorClass: 'invalid_response' };
  }
  if (codes.some((c) => c.startsWith('ERR_SSL') || c.startsWith('ERR_TLS') || c === 'EPROTO')) {
    return { class: 'non_retryable', reason: 'TLS: the handshake failed', errorClass: 'tls_handshake' };
  }
  // Unknown transport failures are treated as passing: retrying is the safer mistake.
  const first = codes[0] ?? 'unknown';
  return { class: 'retryable', reason: `network error (${first})`, errorClass: 'network_error' };
}

/** The type of the `ApplicationFailure` an attempt that did not deliver raises. */
export function failureType(o: AttemptOutcome): WebhookFailureType {
  if (o.errorClass) return ERROR_CLASSES[o.errorClass];
  if (o.httpStatus !== undefined) return o.class === 'retryable' ? 'WebhookServerError' : 'WebhookRejected';
  return 'WebhookNetworkError';
}
