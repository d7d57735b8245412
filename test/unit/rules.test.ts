import { checkHeaderName, checkHeaderValue, checkWebhookUrl } from '../../src/webhooks/rules';

describe('webhook URL rules', () => {
  test.each(['https://example.com/hook', 'HTTPS://Example.com/Hook?x=1', 'https://127.0.0.1:8443/'])(
    '%s is accepted',
    (u) => {
      expect(checkWebhookUrl(u)).toBeUndefined();
    },
  );
  test.each([
    ['example.com/hook', 'absolute_url'],
    ['http://example.com', 'https_only'],
    ['ftp://example.com', 'https_only'],
    ['https://user:pass@example.com/', 'no_credentials'],
    ['https://token@example.com/', 'no_credentials'],
    ['https://example.com/#frag', 'no_fragment'],
    ['https://example.com/#', 'no_fragment'],
  ])('%s breaks %s', (u, rule) => {
    expect(checkWebhookUrl(u)?.rule).toBe(rule);
  });
});

describe('header rules', () => {
  test.each([
    'Content-Type',
    'content-length',
    'HOST',
    'Idempotency-Key',
    'User-Agent',
    'Transfer-Encoding',
    'Connection',
  ])('%s is reserved', (name) => {
    expect(checkHeaderName(name)?.rule).toBe('reserved_header');
  });
  test('names must be tokens', () => {
    expect(checkHeaderName('X-Api-Key')).toBeUndefined();
    expect(checkHeaderName('X Api')?.rule).toBe('header_name');
    expect(checkHeaderName('')?.rule).toBe('header_name');
  });
  test('values: no line breaks or control characters, and the value is never echoed', () => {
    expect(checkHeaderValue('Bearer abc')).toBeUndefined();
    const bad = checkHeaderValue('secret\r\nX-Evil: 1');
    expect(bad?.rule).toBe('header_value');
    expect(bad?.message).not.toContain('secret');
    expect(checkHeaderValue('a\u0000b')?.rule).toBe('header_value');
    // Invisible characters: DEL and the C1 controls (NEL among them, a line break to some parsers).
    for (const c of ['\u007f', '\u0080', '\u0085', '\u009f', '\u2028'])
      expect(checkHeaderValue(`a${c}b`)?.rule).toBe('header_value');
    expect(checkHeaderValue('caf\u00e9 \u00a0x')).toBeUndefined();
  });
});
