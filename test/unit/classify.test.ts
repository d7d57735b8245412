import { classifyError, classifyResponse, failureType, parseRetryAfter } from '../../src/webhooks/classify';

const NOW = Date.parse('2026-11-29T10:00:00Z');
const HOUR = 3_600_000;

describe('classifyResponse', () => {
  test.each([200, 201, 202, 204, 299])('%i → delivered', (status) => {
    expect(classifyResponse({ status }, NOW, HOUR).class).toBe('delivered');
  });
  test.each([408, 429, 500, 502, 503, 504, 507, 599])('%i → retryable', (status) => {
    expect(classifyResponse({ status }, NOW, HOUR).class).toBe('retryable');
  });
  test.each([400, 401, 403, 404, 405, 409, 410, 413, 422, 451])('%i → non-retryable', (status) => {
    const o = classifyResponse({ status }, NOW, HOUR);
    expect(o.class).toBe('non_retryable');
    expect(o.reason).toContain(`HTTP ${status}`);
  });
  test.each([301, 302, 303, 307, 308])('%i → non-retryable, saying where it pointed', (status) => {
    const o = classifyResponse({ status, location: 'https://example.com/new' }, NOW, HOUR);
    expect(o).toMatchObject({ class: 'non_retryable', errorClass: 'redirect', httpStatus: status });
    expect(o.reason).toContain('redirects to https://example.com/new');
  });
  test('Retry-After on 429 and 503 sets the next delay, bounded', () => {
    expect(classifyResponse({ status: 429, retryAfter: '1' }, NOW, HOUR).retryAfterMs).toBe(1000);
    expect(classifyResponse({ status: 503, retryAfter: '999999' }, NOW, HOUR).retryAfterMs).toBe(HOUR);
    expect(classifyResponse({ status: 500, retryAfter: '1' }, NOW, HOUR).retryAfterMs).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  test('seconds, HTTP dates, past dates, garbage', () => {
    expect(parseRetryAfter('30', NOW, HOUR)).toBe(30_000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 10:00:10 GMT', NOW, HOUR)).toBe(10_000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 09:00:00 GMT', NOW, HOUR)).toBe(0);
    expect(parseRetryAfter('soon', NOW, HOUR)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW, HOUR)).toBeUndefined();
  });
});

describe('classifyError', () => {
  const err = (code: string, cause?: unknown) => Object.assign(new Error(code), { code, cause });
  test.each([
    ['ECONNREFUSED', 'connection_refused'],
    ['ECONNRESET', 'connection_reset'],
    ['ENOTFOUND', 'dns_failure'],
    ['EAI_AGAIN', 'dns_failure'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['UND_ERR_SOCKET', 'socket_closed'],
  ])('%s → retryable (%s)', (code, errorClass) => {
    expect(classifyError(err(code), 1000)).toMatchObject({ class: 'retryable', errorClass });
  });
  test.each([
    ['DEPTH_ZERO_SELF_SIGNED_CERT', /self-signed/],
    ['SELF_SIGNED_CERT_IN_CHAIN', /self-signed/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /unknown authority/],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', /unknown authority/],
    ['CERT_HAS_EXPIRED', /expired/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', /does not match/],
  ])('%s → non-retryable', (code, reason) => {
    const o = classifyError(err('fetch failed', err(code)), 1000);
    expect(o.class).toBe('non_retryable');
    expect(o.reason).toMatch(reason);
  });
  test('our own timeout (AbortSignal.timeout) is retryable', () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classifyError(timeout, 1500)).toMatchObject({ class: 'retryable', errorClass: 'timeout' });
  });
  test('an AggregateError of refused connections is retryable', () => {
    expect(classifyError(new AggregateError([err('ECONNREFUSED')]), 1000).errorClass).toBe(
      'connection_refused',
    );
  });
  test('unknown errors are retried rather than dropped', () => {
    expect(classifyError(new Error('weird'), 1000).class).toBe('retryable');
  });
});

describe('failure types', () => {
  test('each error class names its failure type; HTTP answers are server errors or rejections', () => {
    expect(
      failureType({ class: 'non_retryable', reason: 'r', httpStatus: 302, errorClass: 'redirect' }),
    ).toBe('WebhookRedirect');
    expect(failureType({ class: 'non_retryable', reason: 'r', errorClass: 'tls_expired' })).toBe(
      'WebhookTlsError',
    );
    expect(failureType({ class: 'retryable', reason: 'r', errorClass: 'connection_refused' })).toBe(
      'WebhookNetworkError',
    );
    expect(failureType({ class: 'non_retryable', reason: 'r', errorClass: 'blocked_destination' })).toBe(
      'WebhookNetworkError',
    );
    expect(failureType({ class: 'retryable', reason: 'r', httpStatus: 503 })).toBe('WebhookServerError');
    expect(failureType({ class: 'non_retryable', reason: 'r', httpStatus: 404 })).toBe('WebhookRejected');
  });
});
