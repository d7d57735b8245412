import type { ParseError } from 'jsonc-parser';
import { parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import nunjucks from 'nunjucks';
import { JSON_STRING_FILTER, JSON_VALUE_FILTER, translateDjango } from './django';
import { FILTERS, str, toJson } from './filters';
import type { TemplateContext } from './context';
import { TemplateError } from './errors';

/**
 * The template engine: Django-style syntax translated to nunjucks, Django and Klaviyo filters,
 * JSON-aware escaping, and a sandbox. Synchronous and pure; `renderer.ts` runs it in a worker
 * thread so that a runaway template can be stopped, or, for a template `in-process.ts` clears, on
 * the caller's thread under a {@link RenderMeter}.
 */

export interface RenderLimits {
  /** Loop iterations allowed in one render, all loops together. @default 100000 */
  maxIterations: number;
  /** Longest output, in UTF-16 code units. @default 1048576 */
  maxOutputChars: number;
}

export const DEFAULT_LIMITS: RenderLimits = { maxIterations: 100_000, maxOutputChars: 1_048_576 };

/**
 * The tighter bounds of a render on the caller's own thread (see `in-process.ts`), counted as the
 * template runs; past any of them the render stops with {@link MeterExceeded}, whatever the
 * template would have produced, and the caller renders it in a thread instead.
 */
export interface RenderMeter {
  /** Loop iterations, all loops together. */
  maxIterations: number;
  /** Loop iterations, each weighted by the size (in nodes) of the largest loop body. */
  maxSteps: number;
  /** Weight of one iteration in steps. */
  stepsPerIteration: number;
  /** Characters (or list items) taken in and given out by filters and output tags, together. */
  maxUnits: number;
}

/** A metered render outgrew its {@link RenderMeter}: not the template's fault, render it in a thread. */
export class MeterExceeded extends Error {
  constructor() {
    super('the render outgrew its in-process meter');
    this.name = 'MeterExceeded';
  }
}

// ---- sandbox ----------------------------------------------------------------------------------

interface Runtime {
  memberLookup(obj: unknown, val: unknown): unknown;
  contextOrFrameLookup(context: unknown, frame: unknown, name: string): unknown;
  fromIterator(arr: unknown): unknown;
}
// nunjucks' typings omit the runtime that compiled templates call into.
const runtime = (nunjucks as unknown as { runtime: Runtime }).runtime;

const FORBIDDEN = new Set([
  '__proto__',
  'prototype',
  'constructor',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);
const isObjectProtoName = (name: string) => FORBIDDEN.has(name) || name in Object.prototype;

interface Meter extends RenderMeter {
  units: number;
  exceeded: boolean;
}

// One shape whether metered or not: renders stay on V8's fast path.
let budget: { iterations: number; max: number; meter: Meter | undefined } | undefined;

/** A metered render stops at once: the flag survives nunjucks wrapping the error it throws. */
function overMeter(m: Meter): never {
  m.exceeded = true;
  throw new MeterExceeded();
}

/**
 * What a filter or an output tag costs the meter: a text's or a list's length, else 1 (an object's
 * size shows in what a filter makes of it: `json` text, `dictsort` lists).
 */
function units(v: unknown): number {
  return typeof v === 'string' || Array.isArray(v) ? v.length : 1;
}

/**
 * Templates see data only: own properties of plain values, no functions, nothing from a
 * prototype. These replace nunjucks' lookups process-wide; they are stricter, never looser.
 */
runtime.memberLookup = (obj, val) => {
  if (obj === null || obj === undefined) return undefined;
  if (typeof val !== 'string' && typeof val !== 'number') return undefined;
  const key = String(val);
  if (isObjectProtoName(key)) return undefined;
  if ((typeof obj === 'string' || Array.isArray(obj)) && key === 'length') return obj.length;
  if (typeof obj !== 'object') return undefined;
  if (!Object.prototype.hasOwnProperty.call(obj, val)) return undefined;
  const v = (obj as Record<string, unknown>)[key];
  return typeof v === 'function' ? undefined : v;
};

const originalFrameLookup = runtime.contextOrFrameLookup.bind(runtime);
runtime.contextOrFrameLookup = (context, frame, name) =>
  isObjectProtoName(name) ? undefined : originalFrameLookup(context, frame, name);

const originalFromIterator = runtime.fromIterator.bind(runtime);
runtime.fromIterator = (arr) => {
  const r = originalFromIterator(arr);
  if (budget) {
    budget.iterations += Array.isArray(r) ? r.length : r && typeof r === 'object' ? Object.keys(r).length : 0;
    const m = budget.meter;
    if (m && (budget.iterations > m.maxIterations || budget.iterations * m.stepsPerIteration > m.maxSteps))
      overMeter(m);
    if (budget.iterations > budget.max) {
      throw new TemplateError(`the template loops more than ${budget.max} times`);
    }
  }
  return r;
};

const originalSuppressValue = (
  runtime as unknown as { suppressValue(v: unknown, autoescape: boolean): unknown }
).suppressValue.bind(runtime);
(runtime as unknown as { suppressValue(v: unknown, autoescape: boolean): unknown }).suppressValue = (
  v,
  autoescape,
) => {
  const m = budget?.meter;
  if (m && (m.units += units(v)) > m.maxUnits) overMeter(m);
  return originalSuppressValue(v, autoescape);
};

/** A filter that charges a metered render for what it takes and gives. */
function metered(fn: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return function (this: unknown, v: unknown, ...rest: unknown[]) {
    const out = fn.call(this, v, ...rest);
    const m = budget?.meter;
    if (m !== undefined && (m.units += units(v) + units(out)) > m.maxUnits) overMeter(m);
    return out;
  };
}

// ---- the `with` tag -----------------------------------------------------------------------------

interface Parser {
  nextToken(): { value: string; lineno: number; colno: number };
  parseSignature(a: null, b: boolean): unknown;
  advanceAfterBlockEnd(name?: string): void;
  parseUntilBlocks(...names: string[]): unknown;
}
interface Nodes {
  CallExtension: new (ext: object, prop: string, args: unknown, contentArgs: unknown[]) => unknown;
}

/** Django's `{% with a=b c=d %}…{% endwith %}`: names bound for the body only. */
class WithExtension {
  tags = ['with'];

  parse(parser: Parser, nodes: Nodes): unknown {
    const tok = parser.nextToken();
    const args = parser.parseSignature(null, true);
    parser.advanceAfterBlockEnd(tok.value);
    const body = parser.parseUntilBlocks('endwith');
    parser.advanceAfterBlockEnd();
    return new nodes.CallExtension(this, 'run', args, [body]);
  }

  run(context: { ctx: Record<string, unknown> }, ...rest: unknown[]): string {
    const body = rest.pop() as () => string;
    const kwargs = (rest[0] ?? {}) as Record<string, unknown>;
    const saved: [string, boolean, unknown][] = [];
    for (const [k, v] of Object.entries(kwargs)) {
      if (k === '__keywords' || isObjectProtoName(k)) continue;
      saved.push([k, Object.prototype.hasOwnProperty.call(context.ctx, k), context.ctx[k]]);
      context.ctx[k] = v;
    }
    try {
      return body();
    } finally {
      for (const [k, had, old] of saved.reverse()) {
        if (had) context.ctx[k] = old;
        else delete context.ctx[k];
      }
    }
  }
}

// ---- environment ------------------------------------------------------------------------------

function jsonInString(v: unknown): string {
  if (v === undefined || v === null) return '';
  const text = typeof v === 'object' ? JSON.stringify(v) : str(v);
  return JSON.stringify(text).slice(1, -1);
}

function jsonValue(v: unknown): string {
  if (v === undefined) return '';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'object') return toJson(v);
  return str(v);
}

function createEnvironment(): nunjucks.Environment {
  // No loader: `include`, `import` and `extends` have nothing to read.
  const env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: false });
  // No globals (range, cycler, joiner): a template sees person, event and its own variables.
  (env as unknown as { globals: Record<string, unknown> }).globals = Object.create(null) as Record<
    string,
    unknown
  >;
  // A retry must send the same body: nunjucks' `random` filter is not available.
  delete (env as unknown as { filters: Record<string, unknown> }).filters.random;
  for (const [name, fn] of Object.entries(FILTERS)) env.addFilter(name, metered(fn));
  env.addFilter(JSON_STRING_FILTER, metered(jsonInString));
  env.addFilter(JSON_VALUE_FILTER, metered(jsonValue));
  env.addExtension('with', new WithExtension());
  return env;
}

const env = createEnvironment();
const FILTER_NAMES = new Set(Object.keys((env as unknown as { filters: Record<string, unknown> }).filters));

// ---- compile and render -----------------------------------------------------------------------

function toTemplateError(err: unknown): TemplateError {
  if (err instanceof TemplateError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  // nunjucks wraps what a render throws; recognise the engine's own limits inside.
  if (/Maximum call stack/.test(raw)) return new TemplateError('the template recurses too deeply');
  if (/Invalid string length/.test(raw)) return new TemplateError('the rendered text grows too large');
  const pos = err as { lineno?: unknown; colno?: unknown };
  const m = /\[Line (\d+), Column (\d+)\]\s*([\s\S]*)$/.exec(raw);
  const detail = (m?.[3] ?? raw)
    .replace(/^\(unknown path\)\s*/, '')
    .replace(/^(?:\w*Error:\s*)+/, '')
    .replace(/\s+/g, ' ')
    .replace(/unknown block tag: (\S+)/, 'unknown tag "$1"')
    .trim();
  if (typeof pos.lineno === 'number') {
    return new TemplateError(detail, pos.lineno, typeof pos.colno === 'number' ? pos.colno : undefined);
  }
  return m ? new TemplateError(detail, Number(m[1]), Number(m[2])) : new TemplateError(detail);
}

interface AstNode {
  typename?: string;
  lineno?: number;
  colno?: number;
  name?: { value?: unknown };
  [k: string]: unknown;
}

/** Finds filters the environment does not know, with their 1-based line. */
function unknownFilters(root: unknown): { name: string; line: number; column: number }[] {
  const found: { name: string; line: number; column: number }[] = [];
  const seen = new Set<unknown>();
  const walk = (node: unknown) => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    const n = node as AstNode;
    if ((n.typename === 'Filter' || n.typename === 'FilterAsync') && typeof n.name?.value === 'string') {
      if (!FILTER_NAMES.has(n.name.value)) {
        found.push({ name: n.name.value, line: (n.lineno ?? 0) + 1, column: (n.colno ?? 0) + 1 });
      }
    }
    for (const v of Object.values(n)) {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') walk(v);
    }
  };
  walk(root);
  return found;
}

/**
 * Finds what a template may never do, so that it is refused at save rather than quietly rendering
 * nothing: reading `constructor`, `__proto__` or another Object.prototype name, and calling
 * anything but a macro the template defines (or `caller` inside one).
 */
function forbiddenAccess(
  root: unknown,
): { message: string; line: number; column: number; token: string } | undefined {
  const nodes: AstNode[] = [];
  const seen = new Set<unknown>();
  const walk = (node: unknown) => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    const n = node as AstNode;
    if (typeof n.typename === 'string') nodes.push(n);
    for (const v of Object.values(n)) {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') walk(v);
    }
  };
  walk(root);
  const macros = new Set(['caller']);
  for (const n of nodes)
    if (n.typename === 'Macro' && typeof n.name?.value === 'string') macros.add(n.name.value);
  const at = (n: AstNode) => ({ line: (n.lineno ?? 0) + 1, column: (n.colno ?? 0) + 1 });
  /** The name a lookup reads (`a.b`, `a["b"]`) or a symbol is, when written literally. */
  const nameOf = (n: AstNode | undefined): string | undefined => {
    if (n?.typename === 'Symbol' && typeof n.value === 'string') return n.value;
    const val = n?.typename === 'LookupVal' ? (n.val as AstNode | undefined) : undefined;
    return val?.typename === 'Literal' && typeof val.value === 'string' ? val.value : undefined;
  };
  const sorted = [...nodes].sort(
    (a, b) => (a.lineno ?? 0) - (b.lineno ?? 0) || (a.colno ?? 0) - (b.colno ?? 0),
  );
  for (const n of sorted) {
    if (n.typename === 'LookupVal' || n.typename === 'Symbol') {
      const key = nameOf(n);
      if (key !== undefined && isObjectProtoName(key))
        return { message: `"${key}" may not be read in a template`, token: key, ...at(n) };
    } else if (n.typename === 'FunCall') {
      const callee = n.name as AstNode | undefined;
      const name = callee?.typename === 'Symbol' ? nameOf(callee) : undefined;
      if (name === undefined || !macros.has(name)) {
        return {
          message: `templates cannot call functions${name === undefined ? '' : ` ("${name}" is not a macro of this template)`}; use filters instead`,
          token: nameOf(callee) ?? '(',
          ...at(callee ?? n),
        };
      }
    }
  }
  return undefined;
}

/**
 * The 1-based column in the author's source of `token`, found on line `line` of the translated
 * template at or after `column`: the Django translation wraps output tags, which shifts columns,
 * but keeps lines and the order of names on them.
 */
function sourceColumn(
  source: string,
  translated: string,
  line: number,
  column: number,
  token: string,
): number {
  const tLine = translated.split('\n')[line - 1] ?? '';
  const sLine = source.split('\n')[line - 1] ?? '';
  let k = 0;
  for (let i = tLine.indexOf(token); i !== -1 && i < column - 1; i = tLine.indexOf(token, i + 1)) k++;
  let at = sLine.indexOf(token);
  for (let j = 0; j < k && at !== -1; j++) at = sLine.indexOf(token, at + 1);
  return at === -1 ? column : at + 1;
}

export interface CompiledTemplate {
  /** With a meter, throws {@link MeterExceeded} when the render outgrows it. */
  render(ctx: TemplateContext, limits?: RenderLimits, meter?: RenderMeter): string;
}

/** The syntax tree of a template (Django syntax translated), as nunjucks parses it; throws as nunjucks does. */
export function parseTemplate(source: string): unknown {
  const parser = (
    nunjucks as unknown as { parser: { parse(src: string, ext: unknown[], opts: unknown): unknown } }
  ).parser;
  return parser.parse(
    translateDjango(source),
    (env as unknown as { extensionsList: unknown[] }).extensionsList,
    {},
  );
}

/**
 * Compiles a template; throws {@link TemplateError} naming an unknown tag or filter and its line.
 * With `atSave`, also refuses what the sandbox would only neutralise at render (reading
 * `constructor`, calling functions), so an author hears of it; templates saved before that rule
 * still render, sandboxed.
 */
export function compileTemplate(source: string, opts: { atSave?: boolean } = {}): CompiledTemplate {
  const translated = translateDjango(source);
  let tpl: nunjucks.Template;
  try {
    const ast = parseTemplate(source);
    const unknown = unknownFilters(ast)[0];
    if (unknown) {
      throw new TemplateError(`unknown filter "${unknown.name}"`, unknown.line, unknown.column);
    }
    const forbidden = opts.atSave ? forbiddenAccess(ast) : undefined;
    if (forbidden) {
      const { message, line, column, token } = forbidden;
      throw new TemplateError(message, line, sourceColumn(source, translated, line, column, token));
    }
    tpl = nunjucks.compile(translated, env);
    // nunjucks compiles lazily; force it so syntax errors surface here, at save time.
    (tpl as unknown as { compile(): void }).compile();
  } catch (err) {
    throw toTemplateError(err);
  }
  return {
    render(ctx, limits = DEFAULT_LIMITS, meter) {
      const m: Meter | undefined =
        meter === undefined
          ? undefined
          : {
              maxIterations: meter.maxIterations,
              maxSteps: meter.maxSteps,
              stepsPerIteration: meter.stepsPerIteration,
              maxUnits: meter.maxUnits,
              units: 0,
              exceeded: false,
            };
      budget = { iterations: 0, max: limits.maxIterations, meter: m };
      let out: string;
      try {
        out = tpl.render({ person: ctx.person, event: ctx.event });
      } catch (err) {
        if (m?.exceeded) throw new MeterExceeded();
        throw toTemplateError(err);
      } finally {
        budget = undefined;
      }
      if (out.length > limits.maxOutputChars) {
        throw new TemplateError(`the rendered body is larger than ${limits.maxOutputChars} characters`);
      }
      return out;
    },
  };
}

export interface JsonProblem {
  message: string;
  line?: number;
  column?: number;
  /** The rendered text around the error, for a JSON error. */
  excerpt?: string;
}

export type JsonRender = { ok: true; body: string } | { ok: false; error: JsonProblem };

/** jsonc-parser's error codes, as a user would say them. */
function describeJsonError(code: string): string {
  const words = code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.replace(/ expected$/, ' was expected');
}

/**
 * JSON.parse decides validity; jsonc-parser (strict options) finds where the first error is,
 * reported as 1-based line and column with the rendered text around it.
 */
export function locateJsonError(body: string): JsonProblem {
  const errors: ParseError[] = [];
  parseJsonc(body, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  const pos = first ? first.offset : body.length;
  const what = first ? describeJsonError(printParseErrorCode(first.error)) : 'unexpected end of input';
  const before = body.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  const excerpt = body.slice(Math.max(0, pos - 40), pos + 40);
  return {
    message: `the rendered body is not valid JSON: ${what} at line ${line}, column ${column}`,
    line,
    column,
    excerpt,
  };
}

/**
 * Renders and checks that the output is JSON, as a webhook body must be. With a meter, throws
 * {@link MeterExceeded} when the render outgrows it (the only error it throws).
 */
export function renderJson(
  tpl: CompiledTemplate,
  ctx: TemplateContext,
  limits?: RenderLimits,
  meter?: RenderMeter,
): JsonRender {
  let body: string;
  try {
    body = tpl.render(ctx, limits, meter);
  } catch (err) {
    if (err instanceof MeterExceeded) throw err;
    const e = toTemplateError(err);
    const problem: JsonProblem = { message: `template error: ${e.message}` };
    if (e.line !== undefined) problem.line = e.line;
    if (e.column !== undefined) problem.column = e.column;
    return { ok: false, error: problem };
  }
  try {
    JSON.parse(body);
  } catch {
    return { ok: false, error: locateJsonError(body) };
  }
  return { ok: true, body };
}
