import { Router } from 'express';
import { z } from 'zod';
import { segmentDefinitionSchema } from '../audience/conditions';
import type { SegmentService } from '../audience/segments';
import { requires } from './auth';
import { parseBody, parseQuery } from './validation';

const name = z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200);
export const createSegmentSchema = z.strictObject({ name, definition: segmentDefinitionSchema });
export const patchSegmentSchema = z
  .strictObject({ name: name.optional(), definition: segmentDefinitionSchema.optional() })
  .refine((p) => p.name !== undefined || p.definition !== undefined, {
    message: 'give a name or a definition',
  });
export const membersQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(100),
  after: z.string().min(1).max(200).optional(),
});

/** Segments: definitions, their members (keyset-paged), membership count and recompute progress. */
export function segmentsRouter(segments: SegmentService): Router {
  const r = Router();
  r.post('/', requires('segments:write'), async (req, res) => {
    res.status(201).json(await segments.create(parseBody(createSegmentSchema, req.body)));
  });
  r.get('/', requires('segments:read'), async (_req, res) => {
    res.json({ segments: await segments.list() });
  });
  r.get('/:id', requires('segments:read'), async (req, res) => {
    res.json(await segments.get(req.params.id));
  });
  r.patch('/:id', requires('segments:write'), async (req, res) => {
    res.json(await segments.patch(req.params.id, parseBody(patchSegmentSchema, req.body)));
  });
  r.delete('/:id', requires('segments:write'), async (req, res) => {
    await segments.delete(req.params.id);
    res.status(204).end();
  });
  r.get('/:id/members', requires('segments:read'), async (req, res) => {
    res.json(await segments.members(req.params.id, parseQuery(membersQuerySchema, req.query)));
  });
  return r;
}
