import { Router } from 'express';
import type { ListService } from '../audience/lists';
import { addMembersSchema, createListSchema, membersPageSchema, patchListSchema } from '../audience/lists';
import type { Guard } from './auth';
import { requires } from './auth';
import { changeSource } from './profiles';
import { parseBody, parseQuery } from './validation';

/** Lists and their members; adding members starts the list's live flows for each new subscriber. */
/** `admit` refuses run-starting changes while the runs waiting for Temporal are at their bound. */
export function listsRouter(lists: ListService, admit: Guard): Router {
  const r = Router();
  r.post('/', requires('profiles:write'), async (req, res) => {
    res.status(201).json(await lists.create(parseBody(createListSchema, req.body)));
  });
  r.get('/', requires('profiles:read'), async (_req, res) => {
    res.json({ lists: await lists.all() });
  });
  r.get('/:id', requires('profiles:read'), async (req, res) => {
    res.json(await lists.get(req.params.id));
  });
  r.patch('/:id', requires('profiles:write'), async (req, res) => {
    res.json(await lists.patch(req.params.id, parseBody(patchListSchema, req.body)));
  });
  r.delete('/:id', requires('profiles:write'), async (req, res) => {
    await lists.delete(req.params.id);
    res.status(204).end();
  });

  r.get('/:id/members', requires('profiles:read'), async (req, res) => {
    res.json(await lists.members(req.params.id, parseQuery(membersPageSchema, req.query)));
  });
  r.post('/:id/members', requires('profiles:write'), admit, async (req, res) => {
    const { profiles } = parseBody(addMembersSchema, req.body);
    // More than one profile at a time is an import; the caller is kept with it.
    const by = profiles.length > 1 ? `import:${changeSource(res)}` : changeSource(res);
    res.json(await lists.addMembers(req.params.id, profiles, by));
  });
  r.delete('/:id/members/:profileId', requires('profiles:write'), async (req, res) => {
    await lists.removeMember(req.params.id, req.params.profileId, changeSource(res));
    res.status(204).end();
  });
  r.post('/:id/members/:profileId/confirm', requires('profiles:write'), admit, async (req, res) => {
    res.json(await lists.confirm(req.params.id, req.params.profileId, changeSource(res)));
  });
  r.get('/:id/members/:profileId/history', requires('profiles:read'), async (req, res) => {
    res.json({ history: await lists.history(req.params.id, req.params.profileId) });
  });
  return r;
}
