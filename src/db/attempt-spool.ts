import fs from 'node:fs';
import path from 'node:path';
import type { AttemptRecord, DeliveryStore } from './delivery-store';

/**
 * Where attempt records go when the database refuses them: one JSON line each in the data
 * folder, replayed into the database by {@link AttemptSpool.drain} (the worker runs it on a
 * timer). Replaying is safe because recording an attempt is idempotent.
 */
export class AttemptSpool {
  private readonly file: string;

  constructor(dataDir: string) {
    const dir = path.join(dataDir, 'spool');
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `attempts-${process.pid}.jsonl`);
  }

  append(rec: AttemptRecord): void {
    fs.appendFileSync(this.file, `${JSON.stringify(rec)}\n`);
  }

  /** How many records wait in the spool (of every process sharing the folder), for the metrics. */
  pending(): number {
    const dir = path.dirname(this.file);
    let count = 0;
    for (const name of fs.readdirSync(dir)) {
      try {
        const text = fs.readFileSync(path.join(dir, name), 'utf8');
        for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
      } catch {
        // Taken by a drain between the listing and the read: counted by the next scrape.
      }
    }
    return count;
  }

  /** Replays every spooled record (from any process); keeps those that still fail. Returns how many landed. */
  async drain(store: DeliveryStore): Promise<number> {
    const dir = path.dirname(this.file);
    let landed = 0;
    for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
      const file = path.join(dir, name);
      // Take the file first, so records appended meanwhile go to a fresh one.
      const taken = `${file}.draining-${process.pid}`;
      try {
        fs.renameSync(file, taken);
      } catch {
        continue;
      }
      const lines = fs.readFileSync(taken, 'utf8').split('\n').filter(Boolean);
      const failed: string[] = [];
      for (const line of lines) {
        try {
          await store.recordAttempt(JSON.parse(line) as AttemptRecord);
          landed++;
        } catch {
          failed.push(line);
        }
      }
      if (failed.length) fs.appendFileSync(this.file, `${failed.join('\n')}\n`);
      fs.rmSync(taken);
    }
    return landed;
  }
}
