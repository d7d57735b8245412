import type { RenderMeter } from './engine';
import { parseTemplate } from './engine';
import { JSON_STRING_FILTER, JSON_VALUE_FILTER } from './django';

/**
 * Which templates may render on the worker's own thread instead of hopping to a render thread.
 *
 * The thread exists to stop a template that runs too long or needs too much memory; a render on
 * the worker's thread cannot be stopped, so it must be bounded before it starts and as it runs:
 *
 * 1. By its shape (decided once per template, from its syntax tree): nothing that can recurse or
 *    multiply text by itself — no macros, calls, `set`, `with`, includes — and only filters whose
 *    output is at most a constant times their input; filters whose size comes from an argument
 *    (`ljust`, `center`, `floatformat`, `replace`, `join`…) only with small literal arguments.
 *    So without loops the work is bounded by the template's size times the data's size.
 * 2. By its input: a source of at most {@link MAX_SOURCE_CHARS} characters and a context (profile and
 *    event) of at most {@link MAX_CONTEXT_CHARS} characters as JSON.
 * 3. By a meter as it runs ({@link IN_PROCESS_METER}): loop iterations, iterations times the size of
 *    the largest loop body, and the characters filters and output tags take and give. Past any of
 *    them the render stops and runs again in a thread, under the full limits and the time limit,
 *    so a template ends exactly as it would in the thread (the same body, the same error).
 *
 * Within these bounds a render on the worker's thread takes well under a millisecond, far less
 * than the hop to a thread and back; the bench's order template renders about 3× as often.
 */

export const MAX_SOURCE_CHARS = 8192;
export const MAX_CONTEXT_CHARS = 32_768;

/** See rule 3 above; `stepsPerIteration` is the template's own. */
export const IN_PROCESS_METER: Omit<RenderMeter, 'stepsPerIteration'> = {
  maxIterations: 1000,
  maxSteps: 20_000,
  maxUnits: 262_144,
};

/** Filters whose output is at most a constant times their input and arguments, whatever those are. */
const LINEAR_FILTERS = new Set([
  JSON_STRING_FILTER,
  JSON_VALUE_FILTER,
  'add',
  'default',
  'default_if_none',
  'lower',
  'upper',
  'title',
  'capfirst',
  'length',
  'first',
  'last',
  'slice',
  'truncatechars',
  'truncatewords',
  'date',
  'time',
  'urlencode',
  'striptags',
  'yesno',
  'divisibleby',
  'pluralize',
  'cut',
  'wordcount',
  'escapejs',
  'linebreaksbr',
  'stringformat',
  'dictsort',
  'dictsortreversed',
  'safe',
  'lookup',
  'floatadd',
  'plus',
  'floatsub',
  'minus',
  'multiply',
  'divide',
  'remainder',
  'modulo',
  'concat',
  'count',
  'size',
  'abs',
  'ceil',
  'floor',
  'at_least',
  'at_most',
  'append',
  'prepend',
  'capitalize',
  'downcase',
  'upcase',
  'strip',
  'lstrip',
  'rstrip',
  'strip_html',
  'strip_newlines',
  'remove',
  'split',
  'compact',
  'reverse',
  'sort',
  'trim_slash',
  'base64_encode',
  'base64_decode',
  'base64_url_safe_encode',
  'base64_url_safe_decode',
  'md5_hash',
  'sha_1',
  'sha_256',
  'urldecode',
  'json',
  'string',
  'int',
  'float',
]);

/** Filters whose output grows with an argument: in process only with small literal arguments. */
const SIZED_BY_ARGUMENT = new Set(['floatformat', 'round', 'ljust', 'rjust', 'center', 'join', 'replace']);
const MAX_LITERAL_ARGUMENT = 100;

/** Syntax that cannot recurse nor feed text back into itself. */
const PLAIN_NODES = new Set([
  'Root',
  'NodeList',
  'Output',
  'TemplateData',
  'Symbol',
  'LookupVal',
  'Literal',
  'Array',
  'Dict',
  'Pair',
  'Group',
  'Filter',
  'If',
  'InlineIf',
  'For',
  'Compare',
  'CompareOperand',
  'And',
  'Or',
  'Not',
  'Neg',
  'Pos',
  'In',
  'Is',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'FloorDiv',
  'Mod',
  'Pow',
  'Concat',
]);

interface Node {
  typename?: string;
  value?: unknown;
  name?: { value?: unknown };
  args?: { children?: unknown[] };
  body?: unknown;
  else_?: unknown;
  [k: string]: unknown;
}

/** Children of a node: nunjucks keeps them in its fields and in `children` arrays. */
function children(n: Node): Node[] {
  const out: Node[] = [];
  for (const v of Object.values(n)) {
    if (Array.isArray(v)) for (const c of v) if (c && typeof c === 'object') out.push(c as Node);
    if (v && typeof v === 'object' && !Array.isArray(v) && 'typename' in v) out.push(v as Node);
  }
  return out;
}

function countNodes(n: Node): number {
  return 1 + children(n).reduce((sum, c) => sum + countNodes(c), 0);
}

function smallLiteral(n: Node): boolean {
  if (n.typename !== 'Literal') return false;
  if (typeof n.value === 'number') return Math.abs(n.value) <= MAX_LITERAL_ARGUMENT;
  if (typeof n.value === 'string') return n.value.length <= MAX_LITERAL_ARGUMENT;
  return n.value === null || typeof n.value === 'boolean';
}

export type InProcessVerdict = { inProcess: true; meter: RenderMeter } | { inProcess: false; why: string };

/** Rules 1 and 2 (the source's part) for one template source. */
export function inProcessVerdict(source: string): InProcessVerdict {
  if (source.length > MAX_SOURCE_CHARS) return { inProcess: false, why: 'the template is long' };
  let root: Node;
  try {
    root = parseTemplate(source) as Node;
  } catch {
    // The thread reports the error, worded as it always is.
    return { inProcess: false, why: 'the template does not parse' };
  }
  let largestLoopBody = 0;
  const problems: string[] = [];
  const visit = (n: Node) => {
    const type = n.typename ?? '';
    if (!PLAIN_NODES.has(type)) problems.push(`"${type}"`);
    if (type === 'Filter') {
      const name = typeof n.name?.value === 'string' ? n.name.value : '';
      const args = (n.args?.children ?? []) as Node[];
      const sized = SIZED_BY_ARGUMENT.has(name) && args.slice(1).every(smallLiteral);
      if (!LINEAR_FILTERS.has(name) && !sized) problems.push(`filter "${name}"`);
    }
    if (type === 'For') {
      const body = [n.body, n.else_].filter((b): b is Node => !!b && typeof b === 'object');
      largestLoopBody = Math.max(
        largestLoopBody,
        body.reduce((s, b) => s + countNodes(b), 0),
      );
    }
    for (const c of children(n)) visit(c);
  };
  visit(root);
  if (problems.length > 0) return { inProcess: false, why: `the template uses ${problems[0]}` };
  return { inProcess: true, meter: { ...IN_PROCESS_METER, stepsPerIteration: Math.max(1, largestLoopBody) } };
}

/** Rule 2 (the context's part); stops counting once over, so a large context costs no more. */
export function contextFits(context: unknown): boolean {
  let size = 0;
  const walk = (v: unknown): boolean => {
    if (typeof v === 'string') size += v.length + 2;
    else if (Array.isArray(v)) {
      size += 2;
      for (const x of v) if (!walk(x)) return false;
    } else if (v !== null && typeof v === 'object') {
      size += 2;
      for (const [k, x] of Object.entries(v)) {
        size += k.length + 3;
        if (!walk(x)) return false;
      }
    } else size += 8;
    return size <= MAX_CONTEXT_CHARS;
  };
  return walk(context);
}
