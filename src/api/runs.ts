import { Router } from 'express';
import type { RunService } from '../runs/service';
import { requires } from './auth';

/** One run's state: the workflow's progress and its delivery records. */
export function runsRouter(runs: RunService): Router {
  const r = Router();
  r.get('/:runId', requires('analytics:read'), async (req, res) => {
    res.json(await runs.get(req.params.runId));
  });
  return r;
}
