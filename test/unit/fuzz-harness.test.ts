import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkOf, ensureFuzzVenv } from '../harness/fuzz';

/** The parts of `make fuzz` that decide without a stack: the venv's failure and the findings' checks. */

test('a python3 that cannot make a venv fails with the command that fixes it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-venv-'));
  try {
    // /bin/false stands for Debian's python3 without python3-venv: `-m venv` exits non-zero.
    for (const python of ['/bin/false', path.join(dir, 'no-such-python3')]) {
      expect(() => ensureFuzzVenv({ venv: path.join(dir, 'venv'), python })).toThrow(
        /fix: apt-get install -y python3-venv/,
      );
      expect(fs.existsSync(path.join(dir, 'venv'))).toBe(false);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('each failure schemathesis reports counts under the check that raises it', () => {
  const of = (type: string, title: string) => checkOf({ type, title });
  expect(of('ServerError', 'Server error')).toBe('not_a_server_error');
  expect(of('UndefinedStatusCode', 'Undocumented status code')).toBe('status_code_conformance');
  expect(of('UndefinedContentType', 'Undocumented Content-Type')).toBe('content_type_conformance');
  expect(of('MissingContentType', 'Missing Content-Type header')).toBe('content_type_conformance');
  expect(of('JsonSchemaError', 'Response violates schema')).toBe('response_schema_conformance');
  expect(of('MalformedJson', 'JSON deserialization error')).toBe('response_schema_conformance');
  expect(of('CustomFailure', 'Custom check failed: `no_secret_leak`')).toBe('no_secret_leak');
  expect(of('RejectedPositiveData', 'Schema-valid request rejected')).toBe('other');
});
