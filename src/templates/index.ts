/**
 * The one module that turns webhook body templates into text: compile (save time, in process),
 * render (bounded, in worker threads). Everything about syntax, filters and escaping is behind it.
 */
export type { CompiledTemplate, JsonProblem, JsonRender, RenderLimits, TemplateContext } from './engine';
export { compileTemplate, DEFAULT_LIMITS, renderJson } from './engine';
export { TemplateError } from './errors';
export { TemplateRenderer } from './renderer';
