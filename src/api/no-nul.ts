import type { RequestHandler } from 'express';
import { HttpError, ValidationError } from '../errors';
import type { FieldProblem } from '../errors';

const NUL = '\u0000';
const MESSAGE = 'must not contain the NUL character (\\u0000)';

/** Where a NUL hides in a parsed JSON body or query: the dotted paths of keys and strings holding one. */
function nulPaths(root: unknown, rootPath: string): FieldProblem[] {
  const found: FieldProblem[] = [];
  // A stack, not recursion: a deeply nested body cannot overflow the call stack here.
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length > 0 && found.length < 20) {
    const [value, at] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes(NUL)) found.push({ path: at || '(body)', message: MESSAGE });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        const childPath = at ? `${at}.${key}` : key;
        if (key.includes(NUL)) found.push({ path: childPath, message: MESSAGE });
        stack.push([child, childPath]);
      }
    }
  }
  return found;
}

/**
 * Refuses text with a NUL character before any route sees it: PostgreSQL cannot store or even
 * compare it (the query fails, which was a 500), and no name, id or template of hookflow needs it.
 * In the path it names nothing (404); in the query or the body it is a 422 naming the field.
 */
export const refuseNul: RequestHandler = (req, _res, next) => {
  if (/%00/.test(req.path)) {
    next(new HttpError(404, 'not_found', 'no resource has a NUL character in its path'));
    return;
  }
  const problems = [...nulPaths(req.query, ''), ...nulPaths(req.body, '')];
  next(problems.length > 0 ? new ValidationError(problems) : undefined);
};
