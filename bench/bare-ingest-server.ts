import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import express from 'express';

/**
 * The yardstick for `POST /api/events`: bare Express that parses the same JSON body (same limit)
 * and writes one row to an SQLite file opened the way hookflow opens its own (src/db/index.ts: WAL,
 * busy_timeout, synchronous NORMAL, foreign keys), then answers 202. No authentication, validation,
 * profile, flows or logging. Run as its own process by bench/ingest.ts; prints its port when ready.
 */
function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-bare-'));
  const db = new SqliteDatabase(path.join(dir, 'bare.sqlite'));
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.exec(
    'create table events (id integer primary key, metric text not null, body text not null, received_at text not null)',
  );
  const insert = db.prepare('insert into events (metric, body, received_at) values (?, ?, ?)');

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '512kb', strict: false }));
  app.post('/api/events', (req, res) => {
    const body = req.body as { metric?: unknown };
    if (typeof body?.metric !== 'string') {
      res.status(400).json({ error: 'metric is required' });
      return;
    }
    insert.run(body.metric, JSON.stringify(body), new Date().toISOString());
    res.status(202).json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    process.stdout.write(`listening ${addr && typeof addr === 'object' ? addr.port : ''}\n`);
  });
  const stop = () =>
    server.close(() => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
