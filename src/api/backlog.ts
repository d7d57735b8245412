import type { RunBacklog } from '../runs/backlog';
import type { Guard } from './auth';

/** What a refused request did not store, and why sending it again is safe, for the 503's message. */
export const REFUSED_EVENT = {
  notStored: 'The event',
  again: 'posted again with the same unique_id it is stored once.',
};
export const REFUSED_CHANGE = {
  notStored: 'The change',
  again: 'none of it was applied, so sending the same request again is safe.',
};

/**
 * Placed after `requires(…)` on routes that record runs (events, list joins, profile changes, price
 * drops): refuses with 503 and `Retry-After` while the runs waiting for Temporal are at their bound,
 * before anything is written. `backlog` is used only when a request comes (the document test builds
 * the routers without one).
 */
export function admitRuns(backlog: Pick<RunBacklog, 'admit'>, what: typeof REFUSED_EVENT): Guard {
  return (_req, _res, next) => {
    backlog.admit(what);
    next();
  };
}
