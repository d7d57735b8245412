import {
  RETRY_FIELDS,
  parseRetryValue,
  retryCrossProblem,
  urlProblem,
} from '../../client/builder/webhook-checks';

/** The webhook panel's as-typed checks (client/builder/webhook-checks.ts), which mirror the API's static rules. */

describe('urlProblem', () => {
  test.each([
    ['https://hooks.example.com/orders', undefined],
    ['  HTTPS://hooks.example.com/x?y=1  ', undefined],
    ['', /Enter the URL/],
    ['hooks.example.com/orders', /not a valid URL/],
    ['http://hooks.example.com', /must use https \(got http\)/],
    ['ftp://hooks.example.com', /must use https \(got ftp\)/],
    ['https://user:pw@hooks.example.com', /user name or password/],
    ['https://hooks.example.com/x#part', /#fragment/],
  ])('%j', (url, want) => {
    const got = urlProblem(url);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(want);
  });
});

describe('retry settings', () => {
  const field = (key: string) => RETRY_FIELDS.find((f) => f.key === key)!;

  test('empty means the default; numbers within the API bounds pass', () => {
    expect(parseRetryValue(field('maxAttempts'), ' ')).toEqual({});
    expect(parseRetryValue(field('maxAttempts'), '5')).toEqual({ value: 5 });
    expect(parseRetryValue(field('backoffCoefficient'), '1.5')).toEqual({ value: 1.5 });
  });

  test('refused as the API would: not a number, not whole, out of bounds', () => {
    expect(parseRetryValue(field('maxAttempts'), 'abc').problem).toBe('must be a number');
    expect(parseRetryValue(field('maxAttempts'), '2.5').problem).toBe('must be a whole number');
    expect(parseRetryValue(field('maxAttempts'), '0').problem).toBe('must be between 1 and 1000');
    expect(parseRetryValue(field('backoffCoefficient'), '11').problem).toBe('must be between 1 and 10');
    expect(parseRetryValue(field('maxIntervalMs'), String(7 * 86_400_000 + 1)).problem).toMatch(/between/);
  });

  test('the longest wait may not be shorter than the first', () => {
    expect(retryCrossProblem({ initialIntervalMs: 1000, maxIntervalMs: 500 })).toMatch(
      /at least the first wait/,
    );
    expect(retryCrossProblem({ initialIntervalMs: 1000, maxIntervalMs: 1000 })).toBeUndefined();
    expect(retryCrossProblem({ maxIntervalMs: 5 })).toBeUndefined();
  });
});
