import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AttemptSpool } from '../../src/db/attempt-spool';
import type { AttemptRecord, DeliveryStore } from '../../src/db/delivery-store';

const rec = (attempt: number): AttemptRecord => ({
  deliveryId: 'dlv_1',
  runId: 'run_1',
  flowId: 'flw_1',
  flowVersion: 1,
  stepId: 's',
  profileId: 'prf_1',
  attempt,
  manual: false,
  startedAt: '2026-11-29T10:00:00.000Z',
  durationMs: 12,
  httpStatus: 200,
  errorClass: null,
  outcome: 'delivered',
  reason: 'HTTP 200 OK',
  responseExcerpt: null,
  status: 'delivered',
  nextAttemptAt: null,
  context: null,
  resendOf: null,
});

test('records the database refused are kept on disk and replayed once it answers again', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-spool-'));
  const spool = new AttemptSpool(dir);
  const landed: AttemptRecord[] = [];
  let down = true;
  const store = {
    recordAttempt: (r: AttemptRecord) => {
      if (down) return Promise.reject(new Error('SQLITE_BUSY'));
      landed.push(r);
      return Promise.resolve();
    },
  } as unknown as DeliveryStore;
  expect(spool.pending()).toBe(0);
  spool.append(rec(1));
  spool.append(rec(2));
  // What the metrics report as waiting: every record on disk, until the database takes it.
  expect(spool.pending()).toBe(2);
  expect(await spool.drain(store)).toBe(0);
  expect(spool.pending()).toBe(2);
  down = false;
  expect(await spool.drain(store)).toBe(2);
  expect(spool.pending()).toBe(0);
  expect(landed.map((r) => r.attempt)).toEqual([1, 2]);
  expect(await spool.drain(store)).toBe(0);
  fs.rmSync(dir, { recursive: true });
});
