import { apiKeyId, apiKeyMatches, createApiKey } from '../../src/auth/api-keys';
import { hashPassword, passwordProblem, verifyPassword } from '../../src/auth/passwords';
import { FailureLimiter } from '../../src/auth/rate-limit';
import {
  createRecoveryCodes,
  createTotpSetup,
  currentTotp,
  matchRecoveryCode,
  verifyTotp,
} from '../../src/auth/totp';

test('passwords are argon2id hashes that verify only the right password', async () => {
  const h = await hashPassword('correct horse battery staple');
  expect(h).toMatch(/^\$argon2id\$/);
  expect(await verifyPassword(h, 'correct horse battery staple')).toBe(true);
  expect(await verifyPassword(h, 'wrong password here')).toBe(false);
  expect(await verifyPassword('not a hash', 'x')).toBe(false);
  expect(passwordProblem('short')).toMatch(/at least 12/);
});

test('TOTP (RFC 6238): the setup gives an otpauth URI and an SVG QR code; codes verify once', async () => {
  const setup = await createTotpSetup('ada@example.com');
  expect(setup.uri).toMatch(/^otpauth:\/\/totp\/hookflow:ada%40example\.com\?.*secret=[A-Z2-7]+/);
  expect(setup.qrSvg).toMatch(/^<svg/);
  const now = Date.parse('2026-11-29T10:00:10Z');
  const code = currentTotp(setup.secret, now);
  const step = verifyTotp(setup.secret, code, -1, now);
  expect(step).toBe(Math.floor(now / 30_000));
  expect(verifyTotp(setup.secret, code, step, now)).toBeUndefined(); // no replay
  expect(verifyTotp(setup.secret, currentTotp(setup.secret, now - 30_000), -1, now)).toBeDefined(); // one step of drift
  expect(verifyTotp(setup.secret, currentTotp(setup.secret, now - 120_000), -1, now)).toBeUndefined();
  expect(verifyTotp(setup.secret, 'abcdef', -1, now)).toBeUndefined();
});

test('RFC 6238 test vector (SHA-1, T = 59 s)', () => {
  // Secret "12345678901234567890" in base32; the RFC's 8-digit value 94287082 ends in 287082.
  expect(currentTotp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000)).toBe('287082');
});

test('recovery codes are one-time values stored hashed', () => {
  const { codes, hashes } = createRecoveryCodes();
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  expect(hashes.join()).not.toContain(codes[0]);
  expect(matchRecoveryCode(codes[3]!, hashes)).toBe(3);
  expect(matchRecoveryCode(` ${codes[3]!.toUpperCase()} `, hashes)).toBe(3);
  expect(matchRecoveryCode('0000-0000-0000', hashes)).toBe(-1);
});

test('API keys are shown once and stored as hashes', () => {
  const k = createApiKey();
  expect(apiKeyId(k.key)).toBe(k.id);
  expect(k.hash).not.toContain(k.key);
  expect(apiKeyMatches(k.key, k.hash)).toBe(true);
  expect(apiKeyMatches(`${k.key}x`, k.hash)).toBe(false);
  expect(apiKeyId('hfk_nope')).toBeUndefined();
});

test('failures lock an account or address out for a while', () => {
  let t = 0;
  const limiter = new FailureLimiter(3, 60_000, 300_000, () => t);
  limiter.fail('acct:ada');
  limiter.fail('acct:ada');
  expect(limiter.lockedFor('acct:ada')).toBe(0);
  limiter.fail('acct:ada');
  expect(limiter.lockedFor('acct:ada')).toBe(300_000);
  t += 300_001;
  expect(limiter.lockedFor('acct:ada')).toBe(0);
  limiter.fail('acct:ada');
  limiter.succeed('acct:ada');
  limiter.fail('acct:ada');
  limiter.fail('acct:ada');
  expect(limiter.lockedFor('acct:ada')).toBe(0);
});
