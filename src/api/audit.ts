import { Router } from 'express';
import { z } from 'zod';
import type { AuditStore } from '../db/audit-store';
import { HttpError } from '../errors';
import { requireAccess, principalOf } from './auth';
import { parseQuery } from './validation';

const auditQuery = z.strictObject({
  flowId: z.string().min(1).max(100).optional(),
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** The audit log of webhook changes, for admins and owners (keys need `flows:read`). */
export function auditRouter(audit: AuditStore): Router {
  const r = Router();
  r.get('/', requireAccess('flows:read'), async (req, res) => {
    const { user } = principalOf(res);
    if (user.role !== 'owner' && user.role !== 'admin') {
      throw new HttpError(
        403,
        'role_forbidden',
        `the audit log is for admins and owners; your role is ${user.role}`,
      );
    }
    res.json(await audit.list(parseQuery(auditQuery, req.query)));
  });
  return r;
}
