import { Router } from 'express';
import type { DestinationStore } from '../db/destination-store';
import { NotFoundError } from '../errors';
import { principalOf, requires } from './auth';

/**
 * Endpoint protection's destinations: the paused ones, and *Resume now*, which closes a circuit (or
 * ends the endpoint's hold) at once, with an audit entry. Resuming sends the waiting deliveries
 * again, so it takes what resending takes.
 */
export function destinationsRouter(destinations: DestinationStore): Router {
  const r = Router();

  r.get('/paused', requires('analytics:read'), async (_req, res) => {
    res.json({ destinations: await destinations.paused() });
  });

  r.post('/:id/resume', requires('deliveries:resend'), async (req, res) => {
    const p = principalOf(res);
    const done = await destinations.resume(req.params.id, {
      userId: p.user.id,
      apiKeyId: p.kind === 'api_key' ? p.keyId : null,
    });
    if (!done) throw new NotFoundError(`destination ${req.params.id}`);
    res.json({ id: req.params.id, circuit: 'closed' });
  });

  return r;
}
