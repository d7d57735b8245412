import type { StepDraft } from '../../client/builder/types';
import {
  describeSeconds,
  findStep,
  insertStep,
  isInside,
  listOf,
  moveStep,
  newStep,
  stepIds,
  stepOfPath,
} from '../../client/builder/model';

/** The builder's step model: list keys, moves, new ids, and API error paths traced to steps. */

const flow = (): StepDraft[] => [
  { id: 'wait', type: 'delay', seconds: 60 },
  {
    id: 'big',
    type: 'split',
    condition: 'event.value > 100',
    yes: [
      { id: 'crm', type: 'webhook', url: 'https://crm.example/h', headers: {}, body: '{}' },
      { id: 'inner', type: 'split', condition: 'true', yes: [], no: [] },
    ],
    no: [],
  },
];

test('API error paths name the step they belong to and the field inside it', () => {
  const steps = flow();
  expect(stepOfPath(steps, 'steps.1.yes.0.url')).toEqual({ step: findStep(steps, 'crm'), rest: 'url' });
  expect(stepOfPath(steps, 'steps.1.yes.0.headers.X-Key')?.rest).toBe('headers.X-Key');
  expect(stepOfPath(steps, 'steps.1.condition')).toEqual({ step: findStep(steps, 'big'), rest: 'condition' });
  expect(stepOfPath(steps, 'steps.1.yes.1')).toEqual({ step: findStep(steps, 'inner'), rest: '' });
  expect(stepOfPath(steps, 'trigger.metric')).toBeUndefined();
  expect(stepOfPath(steps, 'steps.7.url')).toBeUndefined();
});

test('steps move between lists, but a split never into its own branches', () => {
  const steps = flow();
  expect(moveStep(steps, 'wait', 'big.no', 0)).toBe(true);
  expect(listOf(steps, 'big.no')?.map((s) => s.id)).toEqual(['wait']);
  expect(steps.map((s) => s.id)).toEqual(['big']);
  expect(isInside(steps, 'big', 'inner.yes')).toBe(true);
  expect(moveStep(steps, 'big', 'inner.yes', 0)).toBe(false);
  expect(moveStep(steps, 'big', 'big.no', 0)).toBe(false);
  expect(moveStep(steps, 'crm', 'root', 5)).toBe(true);
  expect(steps.map((s) => s.id)).toEqual(['big', 'crm']);
  expect(listOf(steps, 'nope.yes')).toBeUndefined();
});

test('new steps get fresh ids the API accepts', () => {
  const steps = flow();
  const taken = stepIds(steps);
  for (const type of ['webhook', 'delay', 'split'] as const) {
    const s = newStep(type, taken);
    expect(s.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(taken.has(s.id)).toBe(false);
    expect(insertStep(steps, s, 'inner.no', 0)).toBe(true);
  }
  expect(listOf(steps, 'inner.no')?.map((s) => s.type)).toEqual(['split', 'delay', 'webhook']);
});

test('delays are described in their largest whole unit', () => {
  expect([describeSeconds(3600), describeSeconds(90), describeSeconds(172_800), describeSeconds(0)]).toEqual([
    '1 hour',
    '90 seconds',
    '2 days',
    '0 seconds',
  ]);
});
