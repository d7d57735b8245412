import crypto from 'node:crypto';
import type { TemplateContext } from './context';
import type { CompiledTemplate, JsonRender, RenderLimits } from './engine';
import { compileTemplate, renderJson } from './engine';
import { Lru } from '../lru';
import { TemplateError } from './errors';

/** One render, as sent to a worker thread. */
export interface RenderTask {
  source: string;
  context: TemplateContext;
  limits: RenderLimits;
  /** Cache key for the compiled template, e.g. flow, version and step; defaults to a hash of the source. */
  key?: string;
}

const cache = new Lru<string, CompiledTemplate>(2000);

/** Compiled once per key and reused: flow versions never change, so neither do their templates. */
function compiled(task: RenderTask): CompiledTemplate {
  const key = task.key ?? crypto.createHash('sha256').update(task.source).digest('hex');
  let tpl = cache.get(key);
  if (!tpl) {
    tpl = compileTemplate(task.source);
    cache.set(key, tpl);
  }
  return tpl;
}

/** The worker-thread entry point (piscina calls the default export). */
export default function render(task: RenderTask): JsonRender {
  let tpl: CompiledTemplate;
  try {
    tpl = compiled(task);
  } catch (err) {
    const e = err instanceof TemplateError ? err : new TemplateError(String(err));
    return { ok: false, error: { message: `template error: ${e.message}`, line: e.line, column: e.column } };
  }
  return renderJson(tpl, task.context, task.limits);
}
