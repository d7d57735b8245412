import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Connection } from '@temporalio/client';
import { DevServer } from '../../src/temporal/dev-server';
import { freePort } from '../../src/temporal/ports';

jest.setTimeout(120_000);

/** The pragmas the dev server's own connection applied, read back from its SQLite file. */
function journalMode(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return String(db.pragma('journal_mode', { simple: true }));
  } finally {
    db.close();
  }
}

test('the dev server keeps its runs in a WAL-mode SQLite file, in either sync mode', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-dev-server-'));
  try {
    for (const sqliteSync of ['normal', 'full'] as const) {
      const dbFile = path.join(dir, `${sqliteSync}.sqlite`);
      const server = await DevServer.start({ port: await freePort(), dbFile, sqliteSync });
      try {
        const connection = await Connection.connect({ address: server.address });
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        await connection.close();
        // WAL is a property of the file: it stays after the server's connection, and shows in the
        // -wal file beside it while the server runs.
        expect(fs.existsSync(`${dbFile}-wal`)).toBe(true);
        expect(journalMode(dbFile)).toBe('wal');
      } finally {
        await server.stop();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
