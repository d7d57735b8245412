import nunjucks from 'nunjucks';

/**
 * The one module that turns a webhook body template into text. Everything about template syntax,
 * filters and escaping lives behind these functions so the activity and the API share them.
 */

export interface TemplateContext {
  person: Record<string, unknown>;
  event: Record<string, unknown>;
}

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
  }
}

export interface CompiledTemplate {
  render(ctx: TemplateContext): string;
}

function createEnvironment(): nunjucks.Environment {
  // No loader: `include`, `import` and `extends` have nothing to read from.
  return new nunjucks.Environment([], { autoescape: false, throwOnUndefined: false });
}

const env = createEnvironment();

/**
 * nunjucks reports parse errors with `lineno`/`colno` and render errors as
 * "(unknown path) [Line 2, Column 5]\n  Error: message"; pull out the parts.
 */
function toTemplateError(err: unknown): TemplateError {
  const raw = err instanceof Error ? err.message : String(err);
  const pos = err as { lineno?: unknown; colno?: unknown };
  const m = /\[Line (\d+), Column (\d+)\]\s*([\s\S]*)$/.exec(raw);
  const detail = (m?.[3] ?? raw)
    .replace(/^\(unknown path\)\s*/, '')
    .replace(/^Error:\s*/, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (typeof pos.lineno === 'number') {
    return new TemplateError(detail, pos.lineno, typeof pos.colno === 'number' ? pos.colno : undefined);
  }
  return m ? new TemplateError(detail, Number(m[1]), Number(m[2])) : new TemplateError(detail);
}

/** Compiles a template; throws {@link TemplateError} on a syntax error. */
export function compileTemplate(source: string): CompiledTemplate {
  let tpl: nunjucks.Template;
  try {
    tpl = nunjucks.compile(source, env);
    // nunjucks compiles lazily; force it so syntax errors surface here, at save time.
    (tpl as unknown as { compile(): void }).compile();
  } catch (err) {
    throw toTemplateError(err);
  }
  return {
    render(ctx) {
      try {
        return tpl.render({ person: ctx.person, event: ctx.event });
      } catch (err) {
        throw toTemplateError(err);
      }
    },
  };
}

export type JsonRender = { ok: true; body: string } | { ok: false; error: TemplateError };

/** Renders and checks that the output is JSON, as a webhook body must be. */
export function renderJsonBody(tpl: CompiledTemplate, ctx: TemplateContext): JsonRender {
  let body: string;
  try {
    body = tpl.render(ctx);
  } catch (err) {
    return { ok: false, error: err as TemplateError };
  }
  try {
    JSON.parse(body);
  } catch (err) {
    return {
      ok: false,
      error: new TemplateError(`the rendered body is not valid JSON: ${(err as Error).message}`),
    };
  }
  return { ok: true, body };
}
