import type { TemplateContext } from '../shared/template-context';

export type { TemplateContext };

/** Template context: standard fields and custom properties at the top level (standard fields win). */
export function buildContext(
  profile: Record<string, unknown>,
  properties: Record<string, unknown>,
  profileId: string,
): TemplateContext {
  const { properties: custom, ...standard } = profile;
  const customFields =
    custom !== null && typeof custom === 'object' ? (custom as Record<string, unknown>) : {};
  return { person: { ...customFields, ...standard, id: profileId }, event: { ...properties } };
}
