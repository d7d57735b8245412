import fs from 'node:fs';
import path from 'node:path';
import { Piscina } from 'piscina';
import type { JsonRender, RenderLimits, TemplateContext } from './engine';
import { DEFAULT_LIMITS } from './engine';
import type { RenderTask } from './render-thread';

export interface RendererOptions {
  /** Longest a render may run before its thread is stopped. @default 1000 */
  timeoutMs?: number;
  /** Threads rendering in parallel. @default 2 */
  threads?: number;
  /** Heap of each thread, in MiB; a template that needs more is stopped. @default 128 */
  memoryMb?: number;
  limits?: RenderLimits;
}

/** Compiled output sits next to this file; under ts-jest the source runs and the thread comes from dist/. */
function threadFile(): string {
  const here = path.join(__dirname, 'render-thread.js');
  if (fs.existsSync(here)) return here;
  return path.resolve(__dirname, '..', '..', 'dist', 'templates', 'render-thread.js');
}

/**
 * Renders webhook bodies in worker threads, so that time, memory, loop count and output size
 * are all bounded: a template that runs too long is stopped with its thread, not the process.
 */
export class TemplateRenderer {
  private readonly pool: Piscina;
  private readonly timeoutMs: number;
  private readonly limits: RenderLimits;

  constructor(opts: RendererOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    const threads = opts.threads ?? 2;
    this.pool = new Piscina({
      filename: threadFile(),
      minThreads: 1,
      maxThreads: threads,
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: opts.memoryMb ?? 128, maxYoungGenerationSizeMb: 16 },
    });
  }

  /** Never rejects for a template problem: the result says what went wrong. */
  async render(source: string, context: TemplateContext, key?: string): Promise<JsonRender> {
    const task: RenderTask = { source, context, limits: this.limits };
    if (key !== undefined) task.key = key;
    try {
      return (await this.pool.run(task, { signal: AbortSignal.timeout(this.timeoutMs) })) as JsonRender;
    } catch (err) {
      const e = err as Error;
      if (e.name === 'AbortError' || e.name === 'TimeoutError') {
        return {
          ok: false,
          error: { message: `template error: rendering took longer than ${this.timeoutMs} ms` },
        };
      }
      if (
        /ERR_WORKER_OUT_OF_MEMORY|out of memory/i.test(`${(e as { code?: string }).code ?? ''} ${e.message}`)
      ) {
        return { ok: false, error: { message: 'template error: rendering needed too much memory' } };
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
