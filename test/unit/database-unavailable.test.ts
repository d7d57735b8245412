import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { isDatabaseUnavailable } from '../../src/db/unavailable';

test('a write refused because another connection holds the SQLite lock is an outage, not a fault', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-locked-'));
  const file = path.join(dir, 'db.sqlite');
  const holder = new SqliteDatabase(file);
  holder.pragma('journal_mode = WAL');
  holder.exec('create table t (x integer)');
  const other = new SqliteDatabase(file);
  other.pragma('busy_timeout = 0');
  holder.exec('BEGIN EXCLUSIVE');
  let refused: unknown;
  try {
    other.exec('insert into t values (1)');
  } catch (err) {
    refused = err;
  }
  holder.exec('COMMIT');
  expect(refused).toBeDefined();
  expect(isDatabaseUnavailable(refused)).toBe(true);
  // Once the lock is gone the same write lands.
  other.exec('insert into t values (1)');
  holder.close();
  other.close();
  fs.rmSync(dir, { recursive: true });
});

test('other errors are faults', () => {
  expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
  expect(isDatabaseUnavailable(Object.assign(new Error('no such table'), { code: 'SQLITE_ERROR' }))).toBe(
    false,
  );
  expect(isDatabaseUnavailable(Object.assign(new Error('terminating'), { code: '57P01' }))).toBe(true);
  expect(isDatabaseUnavailable(undefined)).toBe(false);
  expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
});
