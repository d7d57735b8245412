import { Router } from 'express';
import { z } from 'zod';
import type { ResendService } from '../analytics/resend';
import type { AnalyticsStore } from '../analytics/store';
import { decodeCursor } from '../analytics/store';
import { DELIVERY_STATUSES } from '../db/schema';
import { NotFoundError } from '../errors';
import type { RunService } from '../runs/service';
import { parseBody, parseQuery } from './validation';
import { requires } from './auth';

const status = z.enum(DELIVERY_STATUSES, { error: `must be one of ${DELIVERY_STATUSES.join(', ')}` });
const id = z.string().min(1).max(100);
const scope = { flowId: id.optional(), stepId: id.optional() };
const iso = z.iso.datetime({
  offset: true,
  error: 'must be an ISO-8601 date-time, e.g. 2026-11-29T10:00:00Z',
});

export const statsQuery = z
  .strictObject({ ...scope, from: iso.optional(), to: iso.optional() })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), {
    message: 'must not be after to',
    path: ['from'],
  });
export const listQuery = z.strictObject({
  ...scope,
  status: status.optional(),
  cursor: z
    .string()
    .optional()
    .refine((c) => c === undefined || decodeCursor(c) !== undefined, 'is not a cursor this API returned'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export const bulkBody = z.strictObject({ ...scope, status: status.optional() }).default({});

const DAY = 86_400_000;

/** Webhook analytics: stats, the queues, one delivery with its attempts, and resends. */
export function webhooksRouter(deps: {
  analytics: AnalyticsStore;
  resend: ResendService;
  runs: RunService;
}): Router {
  const r = Router();
  const read = requires('analytics:read');

  r.get('/stats', read, async (req, res) => {
    const q = parseQuery(statsQuery, req.query);
    const to = q.to ? new Date(q.to).toISOString() : new Date().toISOString();
    const from = q.from ? new Date(q.from).toISOString() : new Date(Date.parse(to) - 7 * DAY).toISOString();
    res.json(await deps.analytics.stats({ ...q, from, to }));
  });

  r.get('/deliveries', read, async (req, res) => {
    res.json(await deps.analytics.list(parseQuery(listQuery, req.query)));
  });

  r.post('/deliveries/resend', requires('deliveries:resend'), async (req, res) => {
    const filters = parseBody(bulkBody, req.body ?? {});
    const statuses = filters.status ? [filters.status] : (['failed', 'skipped'] as const);
    const total = { resent: 0, alreadyRunning: 0, notResendable: 0, more: false };
    for (const s of statuses) {
      const r1 = await deps.resend.resendMany({ ...filters, status: s });
      total.resent += r1.resent;
      total.alreadyRunning += r1.alreadyRunning;
      total.notResendable += r1.notResendable;
      total.more ||= r1.more;
    }
    res.status(202).json(total);
  });

  r.get('/deliveries/:id', read, async (req, res) => {
    const found = await deps.analytics.get(req.params.id);
    if (!found) throw new NotFoundError(`delivery ${req.params.id}`);
    res.json({ ...found, runUrl: deps.runs.temporalUrl(found.delivery.runId) });
  });

  r.post('/deliveries/:id/resend', requires('deliveries:resend'), async (req, res) => {
    res.status(202).json(await deps.resend.resendOne(req.params.id));
  });

  return r;
}
