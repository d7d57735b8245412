import type { RunContext } from '../shared/run-types';

/** Template context: standard fields and custom properties at the top level (standard fields win). */
export function buildContext(
  profile: Record<string, unknown>,
  properties: Record<string, unknown>,
  profileId: string,
): RunContext {
  const { properties: custom, ...standard } = profile;
  const customFields =
    custom !== null && typeof custom === 'object' ? (custom as Record<string, unknown>) : {};
  return { person: { ...customFields, ...standard, id: profileId }, event: { ...properties } };
}
