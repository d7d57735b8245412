import crypto from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { SecretKey } from '../secrets';
import type { SecretSettings } from '../secrets/from-config';
import { loadSecretKeys } from '../secrets';

/** The `encoding` of a payload this codec encrypted (what the Web UI shows before decoding). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata entry naming the key that encrypted the payload. */
export const KEY_ID_METADATA = 'encryption-key-id';
/** HKDF info: the payload key is derived from a secret key, never the header-value key itself. */
const DERIVATION_INFO = 'hookflow-temporal-payload';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A payload that cannot be decoded: a key that is not configured, or a ciphertext that fails its check. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
  constructor(
    message: string,
    readonly keyId: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/**
 * Derives the payload keys from the secret keys (`HOOKFLOW_SECRET_KEYS`, or the development key in
 * the data folder), with the same ids: one key list to keep, rotate and back up, while header values
 * and workflow payloads are never encrypted under the same key.
 */
export function derivePayloadKeys(secretKeys: readonly SecretKey[]): SecretKey[] {
  return secretKeys.map(({ id, key }) => ({
    id,
    key: Buffer.from(crypto.hkdfSync('sha256', key, Buffer.alloc(0), DERIVATION_INFO, 32)),
  }));
}

/**
 * Encrypts every Temporal payload with AES-256-GCM under the first key, and decrypts with whichever
 * configured key the payload names, so a key is rotated by putting a new one first and keeping the
 * old one while histories written under it are still read. Payloads it did not encrypt (histories
 * recorded before it was installed) pass through unchanged.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: readonly SecretKey[]) {
    if (keys.length === 0) throw new Error('at least one payload key is required');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  // The work is synchronous; run inside then() so that a failure rejects the promise instead of throwing.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(payloads).then((ps) => ps.map((p) => this.encrypt(p)));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(payloads).then((ps) => ps.map((p) => this.decrypt(p)));
  }

  encrypt(payload: Payload): Payload {
    const { id, key } = this.keys[0]!;
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
    // The key id is authenticated too: a payload relabelled with another id fails to decrypt.
    cipher.setAAD(Buffer.from(id));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(id) }, data };
  }

  decrypt(payload: Payload): Payload {
    if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
    const id = text(payload.metadata?.[KEY_ID_METADATA]) ?? '';
    const key = this.byId.get(id);
    if (!key) {
      throw new PayloadDecryptionError(
        `payload encrypted with key "${id}", which is not configured; add it back to HOOKFLOW_SECRET_KEYS`,
        id,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`encrypted payload (key "${id}") is truncated`, id);
    }
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    } catch (err) {
      throw new PayloadDecryptionError(
        `encrypted payload (key "${id}") failed its integrity check: it was altered or the key is wrong`,
        id,
        { cause: err },
      );
    }
  }
}

/**
 * The codec for the configured keys. The development-key warning is the secret box's (the same
 * key list): the API and the worker build both.
 */
export function createPayloadCodec(settings: SecretSettings): EncryptionCodec {
  return new EncryptionCodec(derivePayloadKeys(loadSecretKeys(settings.secretKeys, settings.dataDir).keys));
}

/** The data converter options every Temporal client and worker of hookflow is built with. */
export function dataConverterOf(codec: PayloadCodec): { payloadCodecs: PayloadCodec[] } {
  return { payloadCodecs: [codec] };
}
