import { h } from '../lib/dom';
import type { DelayStepDraft, SplitStepDraft, StepProblem } from './types';
import { describeSeconds, UNITS } from './model';

function problemList(problems: StepProblem[]): HTMLElement | null {
  if (!problems.length) return null;
  return h(
    'ul',
    { class: 'problems', 'data-testid': 'step-problems' },
    ...problems.map((p) => h('li', {}, `${p.path || 'step'}: ${p.message}`)),
  );
}

/** A delay's settings: an amount and a unit, saved as seconds. */
export function delaySettings(
  step: DelayStepDraft,
  readOnly: boolean,
  problems: StepProblem[],
  onChange: () => void,
): HTMLElement {
  const unit = UNITS.find((u) => step.seconds > 0 && step.seconds % u.seconds === 0) ?? UNITS[3];
  const amount = h('input', {
    id: `delay-amount-${step.id}`,
    type: 'number',
    min: 0,
    step: 1,
    value: step.seconds / unit.seconds,
    disabled: readOnly,
    'aria-describedby': `delay-total-${step.id}`,
  });
  const unitSelect = h(
    'select',
    { id: `delay-unit-${step.id}`, disabled: readOnly },
    ...UNITS.map((u) => h('option', { value: u.seconds }, u.name)),
  );
  unitSelect.value = String(unit.seconds);
  const total = h('p', { class: 'field-note', id: `delay-total-${step.id}`, 'aria-live': 'polite' });
  const sync = () => {
    step.seconds = Math.round(Number(amount.value || 0) * Number(unitSelect.value));
    total.textContent = `= ${step.seconds} seconds (${describeSeconds(step.seconds)})`;
  };
  sync();
  amount.addEventListener('input', () => {
    sync();
    onChange();
  });
  unitSelect.addEventListener('change', () => {
    sync();
    onChange();
  });
  return h(
    'div',
    {},
    h('h2', {}, 'Time delay'),
    h(
      'div',
      { class: 'inline' },
      h('label', { for: amount.id }, 'Wait'),
      amount,
      h('label', { for: unitSelect.id, class: 'visually-hidden' }, 'Unit'),
      unitSelect,
    ),
    total,
    h('p', { class: 'field-note' }, 'A durable timer: the wait survives restarts. At most 366 days.'),
    problemList(problems),
  );
}

/** A split's settings: the condition that sends a run down the yes branch. */
export function splitSettings(
  step: SplitStepDraft,
  readOnly: boolean,
  problems: StepProblem[],
  onChange: () => void,
): HTMLElement {
  const input = h('textarea', {
    id: `split-condition-${step.id}`,
    rows: 3,
    class: 'code',
    spellcheck: 'false',
    placeholder: 'event.value > 100',
    disabled: readOnly,
    'aria-describedby': `split-help-${step.id}`,
  });
  input.value = step.condition;
  input.addEventListener('input', () => {
    step.condition = input.value;
    onChange();
  });
  return h(
    'div',
    {},
    h('h2', {}, 'Conditional split'),
    h('label', { for: input.id }, 'Condition (true: yes branch, false: no branch)'),
    input,
    h(
      'p',
      { class: 'field-note', id: `split-help-${step.id}` },
      'Reads person.* and event.* with == != < <= > >=, and, or, not, in, arithmetic and parentheses. Example: person.country == "FR" and event.value > 100',
    ),
    problemList(problems),
  );
}
