import crypto from 'node:crypto';
import { z } from 'zod';

/** A time zone the runtime knows, e.g. `Europe/Paris`. */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Where the profile is; `timezone` is an IANA name. */
export const locationSchema = z.strictObject({
  address1: z.string().max(500).optional(),
  address2: z.string().max(500).optional(),
  city: z.string().max(200).optional(),
  region: z.string().max(200).optional(),
  country: z.string().max(200).optional(),
  zip: z.string().max(50).optional(),
  latitude: z.number().min(-90).max(90).optional(),
  longitude: z.number().min(-180).max(180).optional(),
  timezone: z.string().max(100).refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Paris').optional(),
});

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
    location: locationSchema.optional(),
    properties: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((p) => p.email !== undefined || p.phone_number !== undefined || p.external_id !== undefined, {
    message: 'needs at least one of email, phone_number, external_id',
  });

export type ProfileInput = z.infer<typeof profileSchema>;

/** The identifiers a profile is known by. */
export type Identity = Pick<ProfileInput, 'email' | 'phone_number' | 'external_id'>;

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/**
 * Profiles are identified by their first identifier: email (case-insensitive), phone, external
 * id. Events, the profile API and list imports all derive the id here, so they meet on one row.
 */
export function profileIdFor(p: Identity): string {
  const key = p.email
    ? `email:${p.email.toLowerCase()}`
    : p.phone_number
      ? `phone:${p.phone_number}`
      : `external:${p.external_id ?? ''}`;
  return `prf_${sha(key).slice(0, 20)}`;
}
