import fs from 'node:fs';
import path from 'node:path';
import { Piscina } from 'piscina';
import type { TemplateContext } from './context';
import type { JsonRender, RenderLimits } from './engine';
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
  /**
   * The module each thread loads. Tests that run from source pass an entry that loads
   * `render-thread.ts` itself, so they never run an older compiled copy.
   * @default the compiled `render-thread.js` next to this file
   */
  threadFile?: string;
}

/** The compiled thread next to this file; never a build elsewhere, which could be stale. */
function compiledThreadFile(): string {
  const here = path.join(__dirname, 'render-thread.js');
  if (!fs.existsSync(here)) {
    throw new Error(
      `${here} does not exist: build first (npm run build), or pass threadFile when running from source`,
    );
  }
  return here;
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
      filename: opts.threadFile ?? compiledThreadFile(),
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
