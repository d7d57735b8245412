import { Router } from 'express';
import { eventSchema } from '../events/schema';
import type { EventService } from '../events/service';
import { requires } from './auth';
import { parseBody } from './validation';

/** Event ingestion: each live flow triggered by the event's metric starts a run. */
export function eventsRouter(events: EventService, ingested: () => void = () => {}): Router {
  const r = Router();
  r.post('/', requires('events:write'), async (req, res) => {
    const { runs } = await events.ingest(parseBody(eventSchema, req.body));
    ingested();
    res.status(202).json({ runs });
  });
  return r;
}
