import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Marks a masked value; U+2022 cannot appear in a valid HTTP header value, so a mask is never a real value. */
export const MASK = '••••';
const HINT_MIN_LENGTH = 12;
const HINT_LENGTH = 3;

/** A header value as stored: encrypted, with the key id that sealed it and a fingerprint to tell values apart. */
export interface SealedValue {
  kid: string;
  iv: string;
  ct: string;
  tag: string;
  fp: string;
  /** The first characters shown in the masked form (empty for short values). */
  hint: string;
}

export interface SecretKey {
  id: string;
  key: Buffer;
}

/**
 * Seals header values with AES-256-GCM. The first key encrypts; every key decrypts, so a key can
 * be rotated by putting the new one first and keeping the old one until values are re-saved.
 */
export class SecretBox {
  private readonly byId: Map<string, SecretKey>;
  private readonly fingerprintKey: Buffer;

  constructor(private readonly keys: readonly SecretKey[]) {
    if (keys.length === 0) throw new Error('at least one secret key is required');
    this.byId = new Map(keys.map((k) => [k.id, k]));
    // Fingerprints are keyed so that a short secret cannot be recovered by hashing guesses.
    this.fingerprintKey = Buffer.from(
      crypto.hkdfSync('sha256', keys[0]!.key, Buffer.alloc(0), 'hookflow-fingerprint', 32),
    );
  }

  seal(value: string): SealedValue {
    const active = this.keys[0]!;
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', active.key, iv);
    const ct = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return {
      kid: active.id,
      iv: iv.toString('base64'),
      ct: ct.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      fp: crypto.createHmac('sha256', this.fingerprintKey).update(value).digest('hex').slice(0, 8),
      hint: value.length >= HINT_MIN_LENGTH ? value.slice(0, HINT_LENGTH) : '',
    };
  }

  open(sealed: SealedValue): string {
    const key = this.byId.get(sealed.kid);
    if (!key) throw new Error(`secret key "${sealed.kid}" is not configured; add it to HOOKFLOW_SECRET_KEYS`);
    const decipher = crypto.createDecipheriv('aes-256-gcm', key.key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString(
      'utf8',
    );
  }
}

/** The form shown in responses: a short prefix (long values only), the mask and a fingerprint. */
export function maskSealed(sealed: SealedValue): string {
  return `${sealed.hint}${MASK}${sealed.fp}`;
}

export function looksMasked(value: string): boolean {
  return value.includes(MASK);
}

/**
 * Parses `HOOKFLOW_SECRET_KEYS` ("id:base64key,id2:base64key", 32-byte keys) or, when it is not
 * set, loads or creates a development key in the data folder. `generated` tells the caller to warn.
 */
export function loadSecretKeys(
  spec: string | undefined,
  dataDir: string,
): { keys: SecretKey[]; source: 'config' | 'dev-file'; file?: string; generated: boolean } {
  if (spec && spec.trim() !== '') return { keys: parseKeySpec(spec), source: 'config', generated: false };
  const file = path.join(dataDir, 'dev-secret-key');
  let generated = false;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    try {
      fs.writeFileSync(file, `dev:${crypto.randomBytes(32).toString('base64')}\n`, {
        mode: 0o600,
        flag: 'wx',
      });
      generated = true;
    } catch (err) {
      // Another process (API or worker) created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return { keys: parseKeySpec(fs.readFileSync(file, 'utf8')), source: 'dev-file', file, generated };
}

export function parseKeySpec(spec: string): SecretKey[] {
  return spec
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part, i) => {
      const sep = part.indexOf(':');
      const id = sep > 0 ? part.slice(0, sep) : '';
      const key = Buffer.from(sep > 0 ? part.slice(sep + 1) : '', 'base64');
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
        throw new Error(`HOOKFLOW_SECRET_KEYS entry ${i + 1} must be "<id>:<32 bytes in base64>"`);
      }
      return { id, key };
    });
}
