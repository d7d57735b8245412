import { Router } from 'express';
import { z } from 'zod';
import type { EventStore } from '../db/event-store';
import { eventSchema } from '../events/schema';
import type { EventService } from '../events/service';
import type { Guard } from './auth';
import { requires } from './auth';
import { parseBody, parseQuery } from './validation';

export const metricsQuery = z.strictObject({
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(500, 'must be at most 500')
    .default(100),
});

/** Event ingestion: each live flow triggered by the event's metric starts a run. */
export function eventsRouter(
  events: EventService,
  eventStore: EventStore,
  /** Refuses while the runs waiting for Temporal are at their bound ({@link admitRuns}). */
  admit: Guard,
  ingested: () => void = () => {},
): Router {
  const r = Router();
  r.post('/', requires('events:write'), admit, async (req, res) => {
    const { runs } = await events.ingest(parseBody(eventSchema, req.body));
    ingested();
    res.status(202).json({ runs });
  });
  // The builder suggests these for metric triggers: names already seen, most recent first.
  r.get('/metrics', requires('flows:read'), async (req, res) => {
    const { limit } = parseQuery(metricsQuery, req.query);
    res.json({ metrics: await eventStore.recentMetrics(limit) });
  });
  return r;
}
