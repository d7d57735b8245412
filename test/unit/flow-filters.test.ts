import { filterRules } from '../../src/api/filter-rules';
import { applyFilters } from '../../src/flows/service';

const metric = { type: 'metric' };
const vip = {
  groups: [{ conditions: [{ type: 'profile_property', property: 'vip', operator: 'equals', value: true }] }],
};
const big = {
  groups: [
    { conditions: [{ type: 'event_property', property: 'value', operator: 'greater_than', value: 100 }] },
  ],
};

describe('flow and trigger filters at save', () => {
  test('valid filters are kept as given', () => {
    const { filters, problems } = applyFilters(
      { flowFilters: vip, triggerFilters: big },
      {},
      metric,
      filterRules,
    );
    expect(problems).toEqual([]);
    expect(filters).toEqual({ flowFilters: vip, triggerFilters: big });
  });

  test('absent keeps the current filters, null removes them', () => {
    const current = { flowFilters: vip, triggerFilters: big };
    expect(applyFilters({}, current, metric, filterRules).filters).toEqual(current);
    expect(applyFilters({ flowFilters: null }, current, metric, filterRules).filters).toEqual({
      triggerFilters: big,
    });
  });

  test('each bad field is named under flowFilters / triggerFilters (422)', () => {
    const { problems } = applyFilters(
      {
        flowFilters: {
          groups: [
            {
              conditions: [
                { type: 'profile_property', property: 'vip', operator: 'greater_than', value: 'x' },
              ],
            },
            { conditions: [{ type: 'event_property', property: 'value', operator: 'equals', value: 1 }] },
          ],
        },
        triggerFilters: { groups: [] },
      },
      {},
      metric,
      filterRules,
    );
    expect(problems).toEqual([
      { path: 'flowFilters.groups.0.conditions.0.value', message: 'must be a number for greater_than' },
      {
        path: 'flowFilters.groups.1.conditions.0.type',
        message: expect.stringContaining('type must be one of') as string,
      },
      { path: 'triggerFilters.groups', message: 'needs at least one group' },
    ]);
  });

  test('a trigger filter is an event condition; profile conditions belong in flow filters', () => {
    const { problems } = applyFilters({ triggerFilters: vip }, {}, metric, filterRules);
    expect(problems).toEqual([
      { path: 'triggerFilters.groups.0.conditions.0.type', message: 'type must be one of event_property' },
    ]);
  });

  test('trigger filters on a flow not triggered by a metric: 422 naming triggerFilters', () => {
    const { problems } = applyFilters({ triggerFilters: big }, {}, { type: 'list' }, filterRules);
    expect(problems).toEqual([
      { path: 'triggerFilters', message: expect.stringContaining('metric-triggered flows only') as string },
    ]);
    // Also when the trigger changes under filters already saved.
    expect(applyFilters({}, { triggerFilters: big }, { type: 'segment' }, filterRules).problems).toEqual([
      {
        path: 'triggerFilters',
        message: expect.stringContaining("this flow's trigger is segment") as string,
      },
    ]);
  });

  test('more than 100 conditions is refused at the filters root', () => {
    const many = {
      groups: [{ conditions: Array.from({ length: 101 }, () => vip.groups[0]!.conditions[0]) }],
    };
    expect(applyFilters({ flowFilters: many }, {}, metric, filterRules).problems).toEqual([
      { path: 'flowFilters', message: 'flow filters may have at most 100 conditions' },
    ]);
  });
});
