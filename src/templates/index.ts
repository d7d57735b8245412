/**
 * The one module that turns webhook body templates into text: compile (save time, in process),
 * render (bounded: in worker threads, or metered on the caller's thread when small, see in-process.ts). Everything about syntax, filters and escaping is behind it.
 */
export type { TemplateContext } from './context';
export { buildContext } from './context';
export type { CompiledTemplate, JsonProblem, JsonRender, RenderLimits } from './engine';
export { compileTemplate, DEFAULT_LIMITS, renderJson } from './engine';
export { TemplateError } from './errors';
export { TemplateRenderer } from './renderer';
