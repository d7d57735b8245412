import { z } from 'zod';
import type { Db } from '../db';
import type { EventRecord } from '../db/event-store';
import { EventStore } from '../db/event-store';
import { ProfileStore } from '../db/profile-store';
import { NotFoundError, ValidationError } from '../errors';

/** `GET /api/profiles/:id/events` query: newest first, `after` is the `next` of the previous page. */
export const profileEventsQuerySchema = z.strictObject({
  metric: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(25),
  after: z.string().max(400).optional(),
});
export type ProfileEventsQuery = z.infer<typeof profileEventsQuerySchema>;

/** An event as a profile's list shows it: no copy of the profile (the caller has it). */
export interface PublicProfileEvent {
  id: string;
  metric: string;
  time: string;
  receivedAt: string;
  uniqueId: string | null;
  properties: Record<string, unknown>;
}

const toPublic = (e: EventRecord): PublicProfileEvent => ({
  id: e.id,
  metric: e.metric,
  time: e.time,
  receivedAt: e.receivedAt,
  uniqueId: e.uniqueId,
  properties: e.properties,
});

function encodeCursor(e: EventRecord): string {
  return Buffer.from(JSON.stringify([e.time, e.id])).toString('base64url');
}

function decodeCursor(cursor: string): { time: string; id: string } {
  try {
    const [time, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof time === 'string' && typeof id === 'string') return { time, id };
  } catch {
    // fall through to the 422
  }
  throw new ValidationError([{ path: 'after', message: 'is not a cursor this API returned' }]);
}

/** A profile's recent events, e.g. to choose one as the sample of a webhook preview. */
export class ProfileEvents {
  constructor(private readonly db: Db) {}

  async list(
    profileId: string,
    query: ProfileEventsQuery,
  ): Promise<{ events: PublicProfileEvent[]; next: string | null }> {
    if (!(await new ProfileStore(this.db).get(profileId))) throw new NotFoundError(`profile ${profileId}`);
    const page: Parameters<EventStore['profileEvents']>[1] = { limit: query.limit };
    if (query.metric !== undefined) page.metric = query.metric;
    if (query.after !== undefined) page.before = decodeCursor(query.after);
    const rows = await new EventStore(this.db).profileEvents(profileId, page);
    const last = rows.at(-1);
    return {
      events: rows.map(toPublic),
      next: rows.length === query.limit && last ? encodeCursor(last) : null,
    };
  }
}
