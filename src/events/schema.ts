import { z } from 'zod';
import { profileSchema } from '../audience/identity';

export { profileSchema };

export const eventSchema = z.strictObject({
  metric: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200),
  profile: profileSchema,
  properties: z.record(z.string(), z.unknown()).default({}),
  unique_id: z.union([z.string().min(1).max(200), z.number().int()]).optional(),
  time: z.iso
    .datetime({ offset: true, error: 'must be an ISO-8601 date-time, e.g. 2026-11-29T10:00:00Z' })
    .optional(),
});
export type EventInput = z.infer<typeof eventSchema>;
