import crypto from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db';
import type { ListRow, MemberRow } from '../db/list-store';
import { ListStore } from '../db/list-store';
import { ProfileStore } from '../db/profile-store';
import { FlowStore } from '../flows/store';
import { buildContext } from '../templates/context';
import type { FieldProblem } from '../errors';
import { NotFoundError, ValidationError } from '../errors';
import type { PendingEntry } from './entry-queue';
import type { FlowEntries } from './entries';
import { profileIdFor, profileSchema } from './identity';
import type { ChangeSource } from './profiles';
import { historyId, MAX_PROFILES_PER_CALL } from './profiles';
import type { SegmentHook } from './segments';
import { refuseIfTriggering } from './in-use';

const name = z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200);

export const createListSchema = z.strictObject({
  name,
  doubleOptIn: z.boolean({ error: 'must be true or false' }).default(false),
});
export const patchListSchema = z
  .strictObject({
    name: name.optional(),
    doubleOptIn: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .refine((p) => p.name !== undefined || p.doubleOptIn !== undefined, {
    message: 'send at least one of name, doubleOptIn',
  });

const identity = profileSchema.shape;
/** One member to add: a known profile by id, or an identifier (a profile is created for an unknown one). */
export const memberRefSchema = z.union(
  [
    z.strictObject({ id: z.string().min(1).max(100) }),
    z.strictObject({ email: identity.email.unwrap() }),
    z.strictObject({ phone_number: identity.phone_number.unwrap() }),
    z.strictObject({ external_id: identity.external_id.unwrap() }),
  ],
  { error: 'must be exactly one of { "id" }, { "email" }, { "phone_number" }, { "external_id" }, valid' },
);
export type MemberRef = z.infer<typeof memberRefSchema>;

export const addMembersSchema = z.strictObject({
  profiles: z
    .array(memberRefSchema, { error: 'is required: an array of profiles' })
    .min(1, 'must not be empty')
    .max(
      MAX_PROFILES_PER_CALL,
      `at most ${MAX_PROFILES_PER_CALL} profiles per call; split the import into calls of ${MAX_PROFILES_PER_CALL}`,
    ),
});

export const membersPageSchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.string().max(200).optional(),
  status: z.enum(['pending', 'subscribed']).optional(),
});

export interface PublicMember {
  profileId: string;
  status: MemberRow['status'];
  joinedAt: string;
  confirmedAt: string | null;
}

const toMember = (m: MemberRow): PublicMember => ({
  profileId: m.profile_id,
  status: m.status,
  joinedAt: m.joined_at,
  confirmedAt: m.confirmed_at,
});

/** The keyset cursor of a members page: the last member's join time and profile id. */
export function encodeCursor(m: MemberRow): string {
  return Buffer.from(JSON.stringify([m.joined_at, m.profile_id])).toString('base64url');
}

export function decodeCursor(cursor: string): { joinedAt: string; profileId: string } {
  try {
    const [joinedAt, profileId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof joinedAt === 'string' && typeof profileId === 'string') return { joinedAt, profileId };
  } catch {
    // fall through
  }
  throw new ValidationError([{ path: 'after', message: 'is not a cursor this API returned' }]);
}

export interface AddMembersResult {
  added: PublicMember[];
  /** Profiles that were members already (nothing changed for them). */
  alreadyMembers: string[];
  /** Profiles created because no profile had the identifier given. */
  createdProfiles: string[];
  runs: PendingEntry[];
}

/**
 * Lists and memberships. Every membership change is recorded in the history (joined, confirmed,
 * left, by whom) and, when the profile newly counts as subscribed, enters the list's live flows
 * in the same transaction; the runs start after commit.
 */
export class ListService {
  private readonly store: ListStore;

  constructor(
    private readonly db: Db,
    private readonly entries: FlowEntries,
    /** Keeps segments with conditions on this list current after each committed change. */
    private readonly segments?: SegmentHook,
  ) {
    this.store = new ListStore(db);
  }

  async create(input: z.infer<typeof createListSchema>): Promise<ListRow> {
    const now = new Date().toISOString();
    const list: ListRow = {
      id: `lst_${crypto.randomBytes(8).toString('hex')}`,
      name: input.name,
      doubleOptIn: input.doubleOptIn,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.insert(list);
    return list;
  }

  async get(id: string): Promise<ListRow & { memberCount: number }> {
    const list = await this.store.get(id);
    if (!list) throw new NotFoundError(`list ${id}`);
    return { ...list, memberCount: await this.store.count(id) };
  }

  all(): Promise<ListRow[]> {
    return this.store.all();
  }

  async exists(id: string): Promise<boolean> {
    return (await this.store.get(id)) !== undefined;
  }

  /** Turning double opt-in off does not subscribe pending members: each still confirms. */
  async patch(id: string, patch: z.infer<typeof patchListSchema>): Promise<ListRow> {
    const list = await this.store.get(id);
    if (!list) throw new NotFoundError(`list ${id}`);
    const next: ListRow = {
      ...list,
      name: patch.name ?? list.name,
      doubleOptIn: patch.doubleOptIn ?? list.doubleOptIn,
      updatedAt: new Date().toISOString(),
    };
    await this.store.update(next);
    return next;
  }

  /** Refused while a flow is triggered by the list: its runs would name a list that is gone. */
  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await refuseIfTriggering(trx, 'list', id);
      if (!(await new ListStore(trx).delete(id))) throw new NotFoundError(`list ${id}`);
    });
  }

  /**
   * Adds members (up to 1,000: an import). Everything is checked first (unknown profile ids are
   * named by index), then one transaction adds them all, creates profiles for unknown identifiers,
   * records the history and enters the list's live flows for each newly subscribed member.
   */
  async addMembers(listId: string, refs: readonly MemberRef[], by: ChangeSource): Promise<AddMembersResult> {
    const list = await this.store.get(listId);
    if (!list) throw new NotFoundError(`list ${listId}`);
    const ids = refs.map((r) => ('id' in r ? r.id : profileIdFor(r)));
    const known = new ProfileStore(this.db);
    const byId = refs.flatMap((r, i) => ('id' in r ? [{ i, id: r.id }] : []));
    const found = await known.existing(byId.map((r) => r.id));
    const problems: FieldProblem[] = byId
      .filter((r) => !found.has(r.id))
      .map((r) => ({ path: `profiles.${r.i}.id`, message: `profile ${r.id} was not found` }));
    if (problems.length) throw new ValidationError(problems);

    const result: AddMembersResult = { added: [], alreadyMembers: [], createdProfiles: [], runs: [] };
    await this.db.transaction().execute(async (trx) => {
      const lists = new ListStore(trx);
      const profiles = new ProfileStore(trx);
      const now = new Date().toISOString();
      const seen = new Set<string>();
      for (const [i, ref] of refs.entries()) {
        const profileId = ids[i]!;
        if (seen.has(profileId)) continue;
        seen.add(profileId);
        if ('id' in ref) {
          // Deleted since the check above: nothing of this call is applied.
          if (!(await profiles.get(profileId)))
            throw new ValidationError([
              { path: `profiles.${i}.id`, message: `profile ${profileId} was not found` },
            ]);
        } else {
          const ident: { email?: string; phone_number?: string; external_id?: string } = ref;
          const created = await profiles.createIfMissing(
            {
              id: profileId,
              email: ident.email ?? null,
              phoneNumber: ident.phone_number ?? null,
              externalId: ident.external_id ?? null,
              data: { ...ref, properties: {} },
            },
            now,
          );
          if (created) result.createdProfiles.push(profileId);
        }
        const member: MemberRow = {
          list_id: listId,
          profile_id: profileId,
          status: list.doubleOptIn ? 'pending' : 'subscribed',
          joined_at: now,
          confirmed_at: null,
        };
        if (!(await lists.addMember(member))) {
          result.alreadyMembers.push(profileId);
          continue;
        }
        const changeId = historyId();
        await lists.record({
          id: changeId,
          list_id: listId,
          profile_id: profileId,
          action: 'joined',
          by,
          at: now,
        });
        result.added.push(toMember(member));
        if (member.status === 'subscribed')
          result.runs.push(
            ...(await this.entries.enqueue(trx, { type: 'list', listId }, profileId, changeId, now)),
          );
      }
    });
    await this.entries.start(result.runs);
    await this.segments?.reevaluate(
      result.added.map((m) => m.profileId),
      { kind: 'list', listId },
    );
    return result;
  }

  /** Confirms a pending member of a double-opt-in list; only then does it enter the list's flows. */
  async confirm(
    listId: string,
    profileId: string,
    by: ChangeSource,
  ): Promise<{ member: PublicMember; runs: PendingEntry[] }> {
    const out = await this.db.transaction().execute(async (trx) => {
      const lists = new ListStore(trx);
      const now = new Date().toISOString();
      if (!(await lists.confirm(listId, profileId, now))) {
        const member = await lists.member(listId, profileId);
        if (!member) throw new NotFoundError(`member ${profileId} of list ${listId}`);
        return { member: toMember(member), runs: [] };
      }
      const changeId = historyId();
      await lists.record({
        id: changeId,
        list_id: listId,
        profile_id: profileId,
        action: 'confirmed',
        by,
        at: now,
      });
      const runs = await this.entries.enqueue(trx, { type: 'list', listId }, profileId, changeId, now);
      return { member: toMember((await lists.member(listId, profileId))!), runs };
    });
    await this.entries.start(out.runs);
    await this.segments?.reevaluate(profileId, { kind: 'list', listId });
    return out;
  }

  async removeMember(listId: string, profileId: string, by: ChangeSource): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const lists = new ListStore(trx);
      if (!(await lists.removeMember(listId, profileId)))
        throw new NotFoundError(`member ${profileId} of list ${listId}`);
      await lists.record({
        id: historyId(),
        list_id: listId,
        profile_id: profileId,
        action: 'left',
        by,
        at: new Date().toISOString(),
      });
    });
    await this.segments?.reevaluate(profileId, { kind: 'list', listId });
  }

  async members(
    listId: string,
    page: z.infer<typeof membersPageSchema>,
  ): Promise<{ members: PublicMember[]; next: string | null }> {
    if (!(await this.store.get(listId))) throw new NotFoundError(`list ${listId}`);
    const rows = await this.store.members(
      listId,
      page.limit,
      page.after === undefined ? undefined : decodeCursor(page.after),
      page.status,
    );
    const last = rows.at(-1);
    return {
      members: rows.map(toMember),
      next: rows.length === page.limit && last ? encodeCursor(last) : null,
    };
  }

  async history(listId: string, profileId: string) {
    return (await this.store.history(listId, profileId)).map((h) => ({
      action: h.action,
      by: h.by,
      at: h.at,
    }));
  }

  /**
   * Enters the list's current subscribed members into a live list-triggered flow, on request: each
   * at most once (the change id is the same for every call, so the run id and entry key are too).
   */
  async addPastProfiles(flowId: string): Promise<{ entered: number; runs: PendingEntry[] }> {
    const flow = await new FlowStore(this.db).get(flowId);
    if (!flow) throw new NotFoundError(`flow ${flowId}`);
    if (flow.trigger.type !== 'list')
      throw new ValidationError([
        { path: 'trigger', message: 'past profiles can be added to list-triggered flows only' },
      ]);
    if (flow.status !== 'live')
      throw new ValidationError([{ path: 'status', message: 'the flow must be live to add past profiles' }]);
    const listId = flow.trigger.listId;
    const changeId = `past:${flowId}`;
    const runs: PendingEntry[] = [];
    let after: { joinedAt: string; profileId: string } | undefined;
    for (;;) {
      const page = await this.store.members(listId, 500, after, 'subscribed');
      if (page.length === 0) break;
      const batch = await this.db.transaction().execute(async (trx) => {
        const now = new Date().toISOString();
        const out: PendingEntry[] = [];
        for (const m of page) {
          const profile = await new ProfileStore(trx).get(m.profile_id);
          if (!profile) continue;
          const ctx = buildContext(profile.data, {}, m.profile_id);
          const e = await this.entries.enter(trx, flow, m.profile_id, changeId, now, ctx);
          if (e) out.push(e);
        }
        return out;
      });
      await this.entries.start(batch);
      runs.push(...batch);
      const last = page.at(-1)!;
      after = { joinedAt: last.joined_at, profileId: last.profile_id };
    }
    return { entered: runs.length, runs };
  }
}
