import { Router } from 'express';
import { z } from 'zod';
import type { AuditStore } from '../db/audit-store';
import { requires } from './auth';
import { parseQuery } from './validation';

export const auditQuery = z.strictObject({
  flowId: z.string().min(1).max(100).optional(),
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** The audit log of webhook changes, for admins and owners (`audit:read`). */
export function auditRouter(audit: AuditStore): Router {
  const r = Router();
  r.get('/', requires('audit:read'), async (req, res) => {
    res.json(await audit.list(parseQuery(auditQuery, req.query)));
  });
  return r;
}
