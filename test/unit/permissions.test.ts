import fs from 'node:fs';
import path from 'node:path';
import type { Action } from '../../src/permissions';
import { ACTIONS, PERMISSIONS, ROLES } from '../../src/permissions';

/** The cells of one action's row as the README writes them. */
function rowOf(action: Action): string[] {
  const p = PERMISSIONS[action];
  const key = p.key === 'session' ? 'refused: sign in' : p.key === 'any' ? 'any scope' : `\`${p.key}\``;
  return [
    `\`${action}\``,
    p.what,
    p.roles.map((r) => `\`${r}\``).join(', '),
    key,
    p.twoStep ? 'required' : 'no',
  ];
}

/** The rows of the README's "Who may do what" table, cells trimmed. */
function readmeRows(): string[][] {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('**Who may do what.**'));
  const lines = section.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const table = lines.slice(
    first,
    lines.findIndex((l, i) => i > first && !l.startsWith('|')),
  );
  return table.slice(2).map((l) =>
    l
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim()),
  );
}

test("the README's permission table is the code's", () => {
  expect(readmeRows()).toEqual(ACTIONS.map(rowOf));
});

test('an action closed to some roles says who may', () => {
  for (const action of ACTIONS) {
    const p: (typeof PERMISSIONS)[Action] = PERMISSIONS[action];
    if (p.roles.length < ROLES.length) expect([action, 'deniedRole' in p]).toEqual([action, true]);
  }
});
