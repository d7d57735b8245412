import { Router } from 'express';
import { z } from 'zod';
import type { AuditStore } from '../db/audit-store';
import { roleRefusal } from '../auth/access';
import { principalOf, refusalError, requireAccess } from './auth';
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
    const refused = roleRefusal(
      principalOf(res),
      ['owner', 'admin'],
      'the audit log is for admins and owners',
    );
    if (refused) throw refusalError(refused);
    res.json(await audit.list(parseQuery(auditQuery, req.query)));
  });
  return r;
}
