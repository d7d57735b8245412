import type { FieldProblem } from '../errors';
import type { Step, Trigger } from './model';
import { triggerLabel } from './model';

/** Template tags (`{{ … }}`, `{% … %}`): only their insides name variables. */
const TAG = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g;
/** Quoted strings inside an expression are text, not variables. */
const QUOTED = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g;
/** `event` as a variable name: not part of a longer name nor an attribute (`x.event`). */
const EVENT_NAME = /(?<![\w.])event(?![\w])/;

/** Does this expression (a split condition, or the inside of one template tag) read `event`? */
export function expressionUsesEvent(expression: string): boolean {
  return EVENT_NAME.test(expression.replace(QUOTED, '""'));
}

/** Does this template read `event` in any of its tags? Text outside tags is never a variable. */
export function templateUsesEvent(template: string): boolean {
  for (const m of template.matchAll(TAG)) {
    if (expressionUsesEvent(m[1] ?? m[2] ?? '')) return true;
  }
  return false;
}

/** The message a body or split gets when it reads `event` where the trigger carries none. */
export function noEventMessage(trigger: Trigger): string {
  return `event variables are not available in ${triggerLabel(trigger)}`;
}

/**
 * List- and segment-triggered flows have `person` only: each webhook body or split condition that
 * reads `event` is a problem naming its field. Metric and price-drop flows have both, so nothing is refused.
 */
export function eventVariableProblems(
  trigger: Trigger,
  steps: readonly Step[],
  paths: ReadonlyMap<string, string>,
): FieldProblem[] {
  if (trigger.type === 'metric' || trigger.type === 'price_drop') return [];
  const out: FieldProblem[] = [];
  const visit = (list: readonly Step[]) => {
    for (const s of list) {
      const at = paths.get(s.id) ?? `steps(${s.id})`;
      if (s.type === 'webhook' && templateUsesEvent(s.body))
        out.push({ path: `${at}.body`, message: noEventMessage(trigger) });
      if (s.type === 'split') {
        if (expressionUsesEvent(s.condition))
          out.push({ path: `${at}.condition`, message: noEventMessage(trigger) });
        visit(s.yes);
        visit(s.no);
      }
    }
  };
  visit(steps);
  return out;
}
