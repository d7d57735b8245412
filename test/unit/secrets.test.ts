import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSecretKeys, maskSealed, parseKeySpec, SecretBox } from '../../src/secrets';

const key = (id: string) => ({ id, key: crypto.randomBytes(32) });

describe('SecretBox', () => {
  test('seals and opens; the sealed form does not contain the value', () => {
    const box = new SecretBox([key('k1')]);
    const sealed = box.seal('sk_live_abcdefghijkl');
    expect(JSON.stringify(sealed)).not.toContain('abcdefghijkl');
    expect(box.open(sealed)).toBe('sk_live_abcdefghijkl');
  });
  test('masks: a short prefix for long values only, and a fingerprint that tells values apart', () => {
    const box = new SecretBox([key('k1')]);
    expect(maskSealed(box.seal('sk_live_abcdefghijkl'))).toMatch(/^sk_••••[0-9a-f]{8}$/);
    expect(maskSealed(box.seal('short'))).toMatch(/^••••[0-9a-f]{8}$/);
    expect(box.seal('one').fp).toBe(box.seal('one').fp);
    expect(box.seal('one').fp).not.toBe(box.seal('two').fp);
  });
  test('rotation: a new first key encrypts, the old one still decrypts', () => {
    const old = key('old');
    const sealedOld = new SecretBox([old]).seal('value');
    const rotated = new SecretBox([key('new'), old]);
    expect(rotated.open(sealedOld)).toBe('value');
    expect(rotated.seal('value').kid).toBe('new');
    expect(() => new SecretBox([key('other')]).open(sealedOld)).toThrow(/HOOKFLOW_SECRET_KEYS/);
  });
  test('tampering is detected', () => {
    const box = new SecretBox([key('k1')]);
    const sealed = box.seal('value');
    expect(() => box.open({ ...sealed, ct: Buffer.from('xxxxx').toString('base64') })).toThrow();
  });
});

describe('key configuration', () => {
  test('parses id:base64 pairs and rejects bad ones by position', () => {
    const b64 = crypto.randomBytes(32).toString('base64');
    expect(parseKeySpec(`a:${b64}, b:${b64}`).map((k) => k.id)).toEqual(['a', 'b']);
    expect(() => parseKeySpec(`a:${b64},b:short`)).toThrow(/entry 2/);
  });
  test('without config, a development key is generated once in the data folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-keys-'));
    const first = loadSecretKeys(undefined, dir);
    const second = loadSecretKeys(undefined, dir);
    expect(first).toMatchObject({ source: 'dev-file', generated: true });
    expect(second.generated).toBe(false);
    expect(second.keys[0]!.key.equals(first.keys[0]!.key)).toBe(true);
    fs.rmSync(dir, { recursive: true });
  });
});
