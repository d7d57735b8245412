/**
 * What a webhook body template sees, declared once: `person` (the profile) and `event` (its
 * properties). Runs carry it, previews and test sends build it, deliveries store it for resends.
 * Here, in the pure shared folder, because workflow code carries it too.
 */
export interface TemplateContext {
  person: Record<string, unknown>;
  event: Record<string, unknown>;
}
