import type { Client } from '@temporalio/client';
import { Router } from 'express';
import type { Db } from '../db';
import { pingDatabase } from '../db';
import { pendingMigrations } from '../db/readiness';

/** Temporal must answer readiness within this. */
const TEMPORAL_DEADLINE_MS = 1000;

export type CheckState = 'ok' | 'unavailable' | 'pending';

/**
 * `/health`: liveness, the process answers (no dependency is asked, so a database or Temporal
 * outage never gets the API restarted). `/ready`: whether it can serve, each check named.
 */
export function probesRouter(deps: { db: Db; client: Client }): Router {
  const r = Router();
  r.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/ready', async (_req, res) => {
    const checks: { database: CheckState; migrations: CheckState; temporal: CheckState } = {
      database: 'ok',
      migrations: 'ok',
      temporal: 'ok',
    };
    // The deadline cancels the call; the timer answers even when the client's retry backoff sleeps
    // past it (a loaded machine, Temporal down), so /ready never takes much more than the deadline.
    let timer: NodeJS.Timeout | undefined;
    const temporal = Promise.race([
      deps.client.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () =>
        deps.client.workflowService.getSystemInfo({}),
      ),
      new Promise((_, reject) => (timer = setTimeout(reject, TEMPORAL_DEADLINE_MS))),
    ])
      .catch(() => (checks.temporal = 'unavailable'))
      .finally(() => clearTimeout(timer));
    try {
      await pingDatabase(deps.db);
      if ((await pendingMigrations(deps.db)).length > 0) checks.migrations = 'pending';
    } catch {
      checks.database = 'unavailable';
      checks.migrations = 'unavailable';
    }
    await temporal;
    const failed = Object.entries(checks)
      .filter(([, state]) => state !== 'ok')
      .map(([name]) => name);
    res
      .status(failed.length === 0 ? 200 : 503)
      .json({ status: failed.length === 0 ? 'ok' : 'unavailable', ...checks, failed });
  });
  return r;
}
