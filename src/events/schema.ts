import { z } from 'zod';

/** Standard profile fields; anything custom goes under `properties`. */
export const profileSchema = z
  .strictObject({
    email: z.email({ error: 'must be an email address' }).max(320).optional(),
    phone_number: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'must be in E.164 form, e.g. +14155550100')
      .optional(),
    external_id: z.string().min(1).max(200).optional(),
    first_name: z.string().max(200).optional(),
    last_name: z.string().max(200).optional(),
    organization: z.string().max(200).optional(),
    title: z.string().max(200).optional(),
    locale: z.string().max(50).optional(),
    image: z.string().max(2048).optional(),
    properties: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((p) => p.email !== undefined || p.phone_number !== undefined || p.external_id !== undefined, {
    message: 'needs at least one of email, phone_number, external_id',
  });

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
