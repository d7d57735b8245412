import { exampleText, keyOfPath, variablesTitle } from '../../client/builder/variable-paths';

/** The variables panel's pure parts (client/builder/variable-paths.ts). */

test('the title is the guide’s: event variables only for metric and price-drop flows', () => {
  expect(variablesTitle('metric')).toBe('View profile and event variables');
  expect(variablesTitle('price_drop')).toBe('View profile and event variables');
  for (const t of ['list', 'segment', 'date'] as const)
    expect(variablesTitle(t)).toBe('View profile properties');
});

test('a variable’s path gives the key its sample value is read from', () => {
  expect(keyOfPath('{{ person.first_name }}')).toEqual({ root: 'person', key: 'first_name' });
  expect(keyOfPath('{{ event.value }}')).toEqual({ root: 'event', key: 'value' });
  expect(keyOfPath('{{ person|lookup:"Loyalty ID" }}')).toEqual({ root: 'person', key: 'Loyalty ID' });
  expect(keyOfPath('{{ event|lookup:"say \\"hi\\"" }}')).toEqual({ root: 'event', key: 'say "hi"' });
  expect(keyOfPath('{{ person.items.0.name }}')).toBeUndefined();
  expect(keyOfPath('{{ other.x }}')).toBeUndefined();
});

test('examples read in one short line', () => {
  expect(exampleText(undefined)).toBe('—');
  expect(exampleText('')).toBe('—');
  expect(exampleText(42)).toBe('42');
  expect(exampleText([{ a: 1 }])).toBe('[{"a":1}]');
  expect(exampleText('x'.repeat(100))).toBe(`${'x'.repeat(57)}…`);
});
