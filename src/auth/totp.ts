import crypto from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

/** RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock drift either way. */
const PERIOD = 30;
const DIGITS = 6;
const WINDOW = 1;

function totp(secretBase32: string, account: string, issuer: string): TOTP {
  return new TOTP({
    issuer,
    label: account,
    algorithm: 'SHA1',
    digits: DIGITS,
    period: PERIOD,
    secret: Secret.fromBase32(secretBase32),
  });
}

export interface TotpSetup {
  /** Base32 secret, to store (encrypted) until the user confirms a code. */
  secret: string;
  /** The `otpauth://` URI authenticator apps read. */
  uri: string;
  /** The URI as a QR code, SVG. */
  qrSvg: string;
}

export async function createTotpSetup(account: string, issuer = 'hookflow'): Promise<TotpSetup> {
  const secret = new Secret({ size: 20 }).base32;
  const uri = totp(secret, account, issuer).toString();
  const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 });
  return { secret, uri, qrSvg };
}

/**
 * Checks a code; returns the time step it matched (store it and refuse that step or an earlier
 * one next time, so a code cannot be replayed), or undefined.
 */
export function verifyTotp(
  secretBase32: string,
  code: string,
  lastUsedStep = -1,
  now = Date.now(),
): number | undefined {
  const clean = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(clean)) return undefined;
  const delta = totp(secretBase32, 'x', 'x').validate({ token: clean, timestamp: now, window: WINDOW });
  if (delta === null) return undefined;
  const step = Math.floor(now / 1000 / PERIOD) + delta;
  return step > lastUsedStep ? step : undefined;
}

/** The current code, for tests and tools. */
export function currentTotp(secretBase32: string, now = Date.now()): string {
  return totp(secretBase32, 'x', 'x').generate({ timestamp: now });
}

/** One-time recovery codes: shown once, stored as SHA-256 hashes. */
export function createRecoveryCodes(n = 10): { codes: string[]; hashes: string[] } {
  const codes = Array.from({ length: n }, () => {
    const raw = crypto.randomBytes(6).toString('hex');
    return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`;
  });
  return { codes, hashes: codes.map(hashRecoveryCode) };
}

export function hashRecoveryCode(code: string): string {
  return crypto.createHash('sha256').update(code.trim().toLowerCase()).digest('hex');
}

/** Index of the stored hash the code matches (compared in constant time), or -1. */
export function matchRecoveryCode(code: string, hashes: readonly string[]): number {
  const h = Buffer.from(hashRecoveryCode(code), 'hex');
  let found = -1;
  hashes.forEach((stored, i) => {
    const s = Buffer.from(stored, 'hex');
    if (s.length === h.length && crypto.timingSafeEqual(s, h) && found < 0) found = i;
  });
  return found;
}
