import { flowFilterSchema, triggerFilterSchema } from '../audience/conditions';
import type { FilterDefinition, FilterRules } from '../flows/model';
import { toProblems } from './validation';

/**
 * The flow model's filters, checked with the audience rules (the model sits below them): the
 * 422 names each field, relative to the filters (`groups.0.conditions.1.value`).
 */
export const filterRules: FilterRules = {
  parse(kind, raw) {
    const schema = kind === 'flowFilters' ? flowFilterSchema : triggerFilterSchema;
    const res = schema.safeParse(raw);
    if (!res.success) {
      // toProblems names the root '(body)'; here the root is the filters themselves.
      return {
        problems: toProblems(res.error).map((p) => ({ ...p, path: p.path === '(body)' ? '' : p.path })),
      };
    }
    const value: FilterDefinition = res.data;
    return { value, problems: [] };
  },
};
