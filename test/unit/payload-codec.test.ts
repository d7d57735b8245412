import crypto from 'node:crypto';
import { loadConfig } from '../../src/config';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import {
  createPayloadCodec,
  derivePayloadKeys,
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  KEY_ID_METADATA,
  PayloadDecryptionError,
} from '../../src/temporal/payload-codec';

const key = (id: string) => ({ id, key: crypto.randomBytes(32) });
const text = (b: Uint8Array | null | undefined) => new TextDecoder().decode(b ?? new Uint8Array());
const input = {
  runId: 'run_1',
  event: { value: 149.5 },
  profile: { email: 'ada@example.com', properties: { plan: 'gold' } },
};
const plain = (): Payload => defaultPayloadConverter.toPayload(input);

describe('EncryptionCodec', () => {
  test('round trip: the encrypted payload names its encoding and key, and holds no value in clear', async () => {
    const codec = new EncryptionCodec([key('k1')]);
    const [encrypted] = await codec.encode([plain()]);
    expect(text(encrypted!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encrypted!.metadata![KEY_ID_METADATA])).toBe('k1');
    const raw = Buffer.from(encrypted!.data!).toString('latin1');
    expect(raw).not.toContain('ada@example.com');
    expect(raw).not.toContain('149.5');
    const [decoded] = await codec.decode([encrypted!]);
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(input);
  });

  test('each encryption uses a fresh IV: the same payload encrypts differently', async () => {
    const codec = new EncryptionCodec([key('k1')]);
    const [a, b] = await codec.encode([plain(), plain()]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  test('payloads it did not encrypt (histories from before the codec) pass through unchanged', async () => {
    const codec = new EncryptionCodec([key('k1')]);
    const before = plain();
    const [decoded] = await codec.decode([before]);
    expect(decoded).toBe(before);
  });

  test('rotation: the new first key encrypts, the old key still decodes what it encrypted', async () => {
    const old = key('old');
    const [sealedOld] = await new EncryptionCodec([old]).encode([plain()]);
    const rotated = new EncryptionCodec([key('new'), old]);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([sealedOld!]))[0]!)).toEqual(input);
    const [sealedNew] = await rotated.encode([plain()]);
    expect(text(sealedNew!.metadata![KEY_ID_METADATA])).toBe('new');
  });

  test('a key id that is not configured is a clear error naming the key and the setting', async () => {
    const [sealed] = await new EncryptionCodec([key('gone')]).encode([plain()]);
    const other = new EncryptionCodec([key('k2')]);
    await expect(other.decode([sealed!])).rejects.toThrow(PayloadDecryptionError);
    await expect(other.decode([sealed!])).rejects.toThrow(/key "gone".*HOOKFLOW_SECRET_KEYS/);
  });

  test('a tampered ciphertext, a relabelled key id or a truncated payload fail to decode', async () => {
    const k1 = key('k1');
    const codec = new EncryptionCodec([k1, { id: 'k2', key: k1.key }]);
    const [sealed] = await codec.encode([plain()]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...sealed!, data: flipped }])).rejects.toThrow(/integrity check/);
    // Same key bytes under another id: the id is authenticated, so the relabel is caught.
    const relabelled = {
      ...sealed!,
      metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') },
    };
    await expect(codec.decode([relabelled])).rejects.toThrow(/integrity check/);
    await expect(codec.decode([{ ...sealed!, data: Buffer.alloc(10) }])).rejects.toThrow(/truncated/);
  });
});

describe('payload keys', () => {
  test('are derived from the secret keys with their ids, and differ from the header-value keys', () => {
    const secret = key('s1');
    const [derived] = derivePayloadKeys([secret]);
    expect(derived!.id).toBe('s1');
    expect(derived!.key).toHaveLength(32);
    expect(derived!.key.equals(secret.key)).toBe(false);
  });

  test('come from HOOKFLOW_SECRET_KEYS, or the development key in the data folder shared by API and worker', async () => {
    const spec = `a:${crypto.randomBytes(32).toString('base64')},b:${crypto.randomBytes(32).toString('base64')}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-codec-'));
    const fromConfig = createPayloadCodec({ secretKeys: spec, dataDir: dir });
    const [sealed] = await fromConfig.encode([plain()]);
    expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe('a');
    expect(fs.existsSync(path.join(dir, 'dev-secret-key'))).toBe(false);

    const api = createPayloadCodec({ secretKeys: undefined, dataDir: dir });
    const worker = createPayloadCodec({ secretKeys: undefined, dataDir: dir });
    const [devSealed] = await api.encode([plain()]);
    expect(text(devSealed!.metadata![KEY_ID_METADATA])).toBe('dev');
    expect(defaultPayloadConverter.fromPayload((await worker.decode([devSealed!]))[0]!)).toEqual(input);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('codec endpoint origins', () => {
  test('default to the Web UI origin of TEMPORAL_UI_URL; a list is taken; anything else names the variable', () => {
    expect(loadConfig({}).codec.origins).toEqual(['http://localhost:8233']);
    expect(loadConfig({ TEMPORAL_UI_URL: 'https://temporal.example.com/ui/' }).codec.origins).toEqual([
      'https://temporal.example.com',
    ]);
    expect(
      loadConfig({ HOOKFLOW_CODEC_ORIGINS: 'http://127.0.0.1:8233, https://ui.example.com' }).codec.origins,
    ).toEqual(['http://127.0.0.1:8233', 'https://ui.example.com']);
    expect(() => loadConfig({ HOOKFLOW_CODEC_ORIGINS: 'http://ui.example.com/path' })).toThrow(
      /HOOKFLOW_CODEC_ORIGINS/,
    );
  });
});
