import type { EventStore } from '../db/event-store';
import { SAMPLE_EVENT, SAMPLE_PRICE_DROP_EVENT, SAMPLE_PROFILE } from './samples';
import type { Flow } from './model';

export type VariableType = 'string' | 'number' | 'boolean' | 'list' | 'object' | 'null';

export interface Variable {
  /** What to paste into a template. */
  path: string;
  /** Where it comes from. */
  source: 'profile' | 'profile_property' | 'event';
  type: VariableType;
  example: unknown;
  /** For lists of objects: the fields each item has, for use inside a `for` loop. */
  itemFields?: { name: string; type: VariableType; example: unknown }[];
}

export const STANDARD_PROFILE_FIELDS = [
  'id',
  'email',
  'phone_number',
  'external_id',
  'first_name',
  'last_name',
  'organization',
  'title',
  'locale',
  'image',
] as const;

const RECENT_PROFILES = 500;
const RECENT_EVENTS = 200;

function typeOf(v: unknown): VariableType {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  return 'string';
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `{{ person.first_name }}`, or `{{ person|lookup:"Loyalty ID" }}` for keys that are not names. */
export function pathFor(root: 'person' | 'event', key: string): string {
  return IDENT.test(key) ? `{{ ${root}.${key} }}` : `{{ ${root}|lookup:${JSON.stringify(key)} }}`;
}

/** First non-null example of each key, in the order keys were first seen. */
function collect(records: Record<string, unknown>[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const r of records) {
    for (const [k, v] of Object.entries(r)) {
      const seen = out.get(k);
      if (!out.has(k) || ((seen === null || seen === undefined) && v !== null && v !== undefined))
        out.set(k, v);
    }
  }
  return out;
}

function itemFields(list: unknown[]): Variable['itemFields'] {
  const objects = list.filter(
    (x): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x),
  );
  if (objects.length === 0) return undefined;
  return [...collect(objects)].map(([name, example]) => ({ name, type: typeOf(example), example }));
}

function variable(
  root: 'person' | 'event',
  source: Variable['source'],
  key: string,
  example: unknown,
): Variable {
  const v: Variable = { path: pathFor(root, key), source, type: typeOf(example), example };
  if (Array.isArray(example)) {
    const fields = itemFields(example);
    if (fields) v.itemFields = fields;
  }
  return v;
}

/**
 * The variables a template of this flow can use: standard profile fields, custom profile
 * properties seen on recent profiles, and the properties seen on recent events of the trigger.
 * Sample values stand in where nothing has been seen yet. List- and segment-triggered flows have no
 * event variables.
 */
export async function listVariables(flow: Flow, events: EventStore): Promise<Variable[]> {
  const profiles = await events.recentProfiles(RECENT_PROFILES);
  const standard = collect(profiles.map(({ properties: _p, ...rest }) => rest));
  const custom = collect(
    profiles.map((p) =>
      p.properties && typeof p.properties === 'object' ? (p.properties as Record<string, unknown>) : {},
    ),
  );
  const out: Variable[] = [];
  for (const field of STANDARD_PROFILE_FIELDS) {
    const example = standard.get(field) ?? (field === 'id' ? 'prf_…' : SAMPLE_PROFILE[field]) ?? '';
    out.push(variable('person', 'profile', field, example));
  }
  const customSeen =
    custom.size > 0 ? custom : new Map(Object.entries(SAMPLE_PROFILE.properties as Record<string, unknown>));
  for (const [k, v] of customSeen) {
    if (!(STANDARD_PROFILE_FIELDS as readonly string[]).includes(k))
      out.push(variable('person', 'profile_property', k, v));
  }
  // Price-drop flows have the drop's fixed event; list and segment flows have `person` only.
  if (flow.trigger.type === 'price_drop') {
    for (const [k, v] of Object.entries(SAMPLE_PRICE_DROP_EVENT)) out.push(variable('event', 'event', k, v));
    return out;
  }
  if (flow.trigger.type !== 'metric') return out;
  const recent = await events.recentEvents(flow.trigger.metric, RECENT_EVENTS);
  const eventSeen =
    recent.length > 0 ? collect(recent.map((e) => e.properties)) : new Map(Object.entries(SAMPLE_EVENT));
  for (const [k, v] of eventSeen) out.push(variable('event', 'event', k, v));
  return out;
}
