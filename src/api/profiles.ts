import { Router } from 'express';
import type { ProfileService } from '../audience/profiles';
import { bulkProfilesSchema, profileLookupSchema } from '../audience/profiles';
import { profileSchema } from '../audience/identity';
import type { ProfileEvents } from '../audience/profile-events';
import { profileEventsQuerySchema } from '../audience/profile-events';
import type { Guard } from './auth';
import { principalOf, requires } from './auth';
import type { Response } from 'express';
import { parseBody, parseQuery } from './validation';

/** Who made a change, as membership history records it: the API key, else the signed-in user. */
export function changeSource(res: Response): string {
  const p = principalOf(res);
  return p.kind === 'api_key' ? `key:${p.keyId}` : `user:${p.user.id}`;
}

/** Profiles: create or update by identity (one, or up to 1,000 at a time), find, read, delete; a profile's events. */
/** `admit` refuses profile changes (they can enter segment and date flows) while the backlog is full. */
export function profilesRouter(profiles: ProfileService, events: ProfileEvents, admit: Guard): Router {
  const r = Router();
  r.post('/', requires('profiles:write'), admit, async (req, res) => {
    const { profile, created } = await profiles.upsert(parseBody(profileSchema, req.body));
    res.status(created ? 201 : 200).json(profile);
  });
  r.post('/bulk', requires('profiles:write'), admit, async (req, res) => {
    const { profiles: inputs } = parseBody(bulkProfilesSchema, req.body);
    const results = await profiles.upsertMany(inputs);
    res.json({
      created: results.filter((x) => x.created).length,
      updated: results.filter((x) => !x.created).length,
      profiles: results.map((x) => ({ id: x.profile.id, created: x.created })),
    });
  });
  r.get('/', requires('profiles:read'), async (req, res) => {
    res.json({ profiles: await profiles.find(parseQuery(profileLookupSchema, req.query)) });
  });
  r.get('/:id', requires('profiles:read'), async (req, res) => {
    res.json(await profiles.get(req.params.id));
  });
  r.get('/:id/events', requires('profiles:read'), async (req, res) => {
    res.json(await events.list(req.params.id, parseQuery(profileEventsQuerySchema, req.query)));
  });
  r.delete('/:id', requires('profiles:write'), async (req, res) => {
    await profiles.delete(req.params.id, changeSource(res));
    res.status(204).end();
  });
  return r;
}
