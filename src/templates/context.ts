/**
 * What a webhook body template sees, declared once: `person` (the profile) and `event` (its
 * properties). Runs carry it, previews and test sends build it, deliveries store it for resends.
 */
export interface TemplateContext {
  person: Record<string, unknown>;
  event: Record<string, unknown>;
}

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
