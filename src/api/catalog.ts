import { Router } from 'express';
import type { CatalogService } from '../audience/catalog';
import { bulkItemsSchema, itemSchema, itemsPageSchema } from '../audience/catalog';
import type { Guard } from './auth';
import { requires } from './auth';
import { parseBody, parseQuery } from './validation';

/** The catalog: items (a lower price records a drop and fans out to price-drop flows) and drops. */
/** `admit` refuses item writes (a price drop fans out into runs) while the backlog is full. */
export function catalogRouter(catalog: CatalogService, admit: Guard): Router {
  const r = Router();
  r.put('/items/:id', requires('catalog:write'), admit, async (req, res) => {
    res.json(await catalog.put(req.params.id, parseBody(itemSchema, req.body)));
  });
  r.post('/items/bulk', requires('catalog:write'), admit, async (req, res) => {
    res.json(await catalog.bulk(parseBody(bulkItemsSchema, req.body).items));
  });
  r.get('/items', requires('catalog:read'), async (req, res) => {
    res.json(await catalog.list(parseQuery(itemsPageSchema, req.query)));
  });
  r.get('/items/:id', requires('catalog:read'), async (req, res) => {
    res.json(await catalog.get(req.params.id));
  });
  r.delete('/items/:id', requires('catalog:write'), async (req, res) => {
    await catalog.delete(req.params.id);
    res.status(204).end();
  });
  r.get('/drops/:id', requires('catalog:read'), async (req, res) => {
    res.json(await catalog.drop(req.params.id));
  });
  return r;
}
