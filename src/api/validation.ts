import type { z } from 'zod';
import type { FieldProblem } from '../errors';
import { ValidationError } from '../errors';

/** Turns zod issues into `{ path, message }` pairs, naming unknown keys one by one. */
export function toProblems(error: z.ZodError, prefix: readonly PropertyKey[] = []): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of error.issues) {
    const base = [...prefix, ...issue.path].map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ path: [...base, key].join('.'), message: 'is not a known field' });
    } else if (issue.code === 'invalid_union' && 'errors' in issue && issue.errors.length > 0) {
      out.push({ path: base.join('.'), message: issue.message });
    } else {
      out.push({ path: base.join('.') || '(body)', message: issue.message });
    }
  }
  return out;
}

/** Parses a request body or throws a 422 {@link ValidationError} naming each field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined) throw new ValidationError([{ path: '(body)', message: 'a JSON body is required' }]);
  const res = schema.safeParse(body);
  if (!res.success) throw new ValidationError(toProblems(res.error));
  return res.data;
}

/** Parses a query string or throws a 422 naming each parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  return parseBody(schema, query ?? {});
}
