import { Router } from 'express';
import { z } from 'zod';
import type { AuditStore } from '../db/audit-store';
import { requires } from './auth';
import { parseQuery } from './validation';

export const auditQuery = z.strictObject({
  flowId: z.string().min(1).max(100).optional(),
  // An audit entry id: a 32-bit integer column on PostgreSQL (a larger number was a 500 there).
  before: z.coerce.number().int().min(1).max(2_147_483_647, 'must be at most 2147483647').optional(),
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
