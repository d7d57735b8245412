import type { TriggerType } from './types';

/** The variables panel's pure parts: its title, the key a variable's path reads, how a value reads. */

/** The panel's title, as the guide names it: event variables exist only for metric and price-drop flows. */
export function variablesTitle(trigger: TriggerType): string {
  return trigger === 'metric' || trigger === 'price_drop'
    ? 'View profile and event variables'
    : 'View profile properties';
}

/** `{{ person.first_name }}` → ['person', 'first_name']; `{{ person|lookup:"Loyalty ID" }}` → ['person', 'Loyalty ID']. */
export function keyOfPath(path: string): { root: 'person' | 'event'; key: string } | undefined {
  const plain = /^\{\{\s*(person|event)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(path);
  if (plain) return { root: plain[1] as 'person' | 'event', key: plain[2]! };
  const lookup = /^\{\{\s*(person|event)\|lookup:("(?:[^"\\]|\\.)*")\s*\}\}$/.exec(path);
  if (lookup) {
    try {
      return { root: lookup[1] as 'person' | 'event', key: JSON.parse(lookup[2]!) as string };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** How a value reads in one short line. */
export function exampleText(v: unknown): string {
  if (v === undefined || v === null || v === '') return '—';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
