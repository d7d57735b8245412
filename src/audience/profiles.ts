import crypto from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db';
import type { ProfileRow } from '../db/profile-store';
import { ProfileStore } from '../db/profile-store';
import { NotFoundError } from '../errors';
import type { ProfileInput } from './identity';
import { profileIdFor, profileSchema } from './identity';
import type { SegmentHook } from './segments';

/** How many profiles one bulk call (an import) may carry. */
export const MAX_PROFILES_PER_CALL = 1000;

/** A bulk body: checked element by element so a 422 names the index at fault. */
export const bulkProfilesSchema = z.strictObject({
  profiles: z
    .array(profileSchema, { error: 'is required: an array of profiles' })
    .min(1, 'must not be empty')
    .max(
      MAX_PROFILES_PER_CALL,
      `at most ${MAX_PROFILES_PER_CALL} profiles per call; split the import into calls of ${MAX_PROFILES_PER_CALL}`,
    ),
});

export const profileLookupSchema = z
  .strictObject({
    email: z.string().min(1).optional(),
    phone_number: z.string().min(1).optional(),
    external_id: z.string().min(1).optional(),
  })
  .refine((q) => Object.values(q).filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of email, phone_number, external_id',
  });

/** A profile as the API shows it: its standard fields, location and properties, with its id. */
export type PublicProfile = Record<string, unknown> & { id: string; createdAt: string; updatedAt: string };

export function toPublicProfile(p: ProfileRow): PublicProfile {
  return { ...p.data, id: p.id, createdAt: p.createdAt, updatedAt: p.updatedAt };
}

/** What an update keeps: fields not sent stay, properties merge key by key, location field by field. */
export function mergeProfile(
  before: Record<string, unknown> | undefined,
  input: ProfileInput,
): Record<string, unknown> {
  if (!before) return { ...input };
  const obj = (v: unknown) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  const merged: Record<string, unknown> = { ...before, ...input };
  merged.properties = { ...obj(before.properties), ...input.properties };
  if (input.location || before.location) merged.location = { ...obj(before.location), ...input.location };
  return merged;
}

/** Who made a change, as membership history records it. */
export type ChangeSource = string;

export const historyId = () => `lmh_${crypto.randomBytes(10).toString('hex')}`;

/** Date-property flows at profile changes and reads (`src/audience/date-sweep.ts`). */
export interface DateHook {
  /** Enters a profile whose changed date falls due behind the last sweep; returns the runs started. */
  profileChanged(profileId: string, data: Record<string, unknown>): Promise<number>;
  /** How each date property that a live flow reads is understood, or why it never qualifies. */
  describe(data: Record<string, unknown>): Promise<Record<string, DatePropertyView>>;
}

export type DatePropertyView =
  { ok: true; date: string; timezone: string } | { ok: false; reason: string; timezone: string };

/** Profiles: create or update by identity (one or up to 1,000 at a time), read, find, delete. */
export class ProfileService {
  private readonly store: ProfileStore;

  constructor(
    private readonly db: Db,
    /** Keeps segment membership current after each committed change. */
    private readonly segments?: SegmentHook,
    /** Date flows: late sends at change time, and the date properties a profile read shows. */
    private readonly dates?: DateHook,
  ) {
    this.store = new ProfileStore(db);
  }

  /** Creates or updates one profile; `created` says which. */
  async upsert(input: ProfileInput): Promise<{ profile: PublicProfile; created: boolean }> {
    const [result] = await this.upsertMany([input]);
    return result!;
  }

  /** All in one transaction: every profile is written, or none. */
  async upsertMany(inputs: readonly ProfileInput[]): Promise<{ profile: PublicProfile; created: boolean }[]> {
    const now = new Date().toISOString();
    const results = await this.db.transaction().execute(async (trx) => {
      const store = new ProfileStore(trx);
      const out: { profile: PublicProfile; created: boolean }[] = [];
      // In one order whatever the order given: two imports sharing profiles never wait on each other.
      for (const id of [...new Set(inputs.map(profileIdFor))].sort()) await store.hold(id);
      for (const input of inputs) {
        const id = profileIdFor(input);
        const before = await store.get(id);
        const data = mergeProfile(before?.data, input);
        await store.put(
          {
            id,
            email: input.email ?? null,
            phoneNumber: input.phone_number ?? null,
            externalId: input.external_id ?? null,
            data,
          },
          now,
        );
        out.push({
          profile: toPublicProfile({
            id,
            email: input.email ?? before?.email ?? null,
            phoneNumber: input.phone_number ?? before?.phoneNumber ?? null,
            externalId: input.external_id ?? before?.externalId ?? null,
            data,
            createdAt: before?.createdAt ?? now,
            updatedAt: now,
          }),
          created: before === undefined,
        });
      }
      return out;
    });
    await this.segments?.reevaluate(
      results.map((r) => r.profile.id),
      { kind: 'profile' },
    );
    // The public profile carries the stored data (properties, location) the date rules read.
    if (this.dates) for (const r of results) await this.dates.profileChanged(r.profile.id, r.profile);
    return results;
  }

  /** One profile, with `dateProperties` when live date flows read any of its properties. */
  async get(id: string): Promise<PublicProfile & { dateProperties?: Record<string, DatePropertyView> }> {
    const p = await this.store.get(id);
    if (!p) throw new NotFoundError(`profile ${id}`);
    const view = toPublicProfile(p);
    const dates = this.dates ? await this.dates.describe(p.data) : {};
    return Object.keys(dates).length > 0 ? { ...view, dateProperties: dates } : view;
  }

  async find(query: z.infer<typeof profileLookupSchema>): Promise<PublicProfile[]> {
    const [by, value] = Object.entries(query).find(([, v]) => v !== undefined) as [
      'email' | 'phone_number' | 'external_id',
      string,
    ];
    return (await this.store.find(by, value)).map(toPublicProfile);
  }

  /**
   * Deletes the profile and its list memberships (history records it left, by `by`). Runs in
   * flight are not touched here: their next webhook step checks the profile still exists.
   */
  async delete(id: string, by: ChangeSource): Promise<void> {
    const deleted = await this.db
      .transaction()
      .execute((trx) => new ProfileStore(trx).delete(id, by, new Date().toISOString(), historyId));
    if (!deleted) throw new NotFoundError(`profile ${id}`);
    await this.segments?.reevaluate(id, { kind: 'deleted' });
  }
}
