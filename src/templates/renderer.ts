import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Piscina } from 'piscina';
import type { TemplateContext } from './context';
import type { CompiledTemplate, JsonRender, RenderLimits, RenderMeter } from './engine';
import { compileTemplate, DEFAULT_LIMITS, MeterExceeded, renderJson } from './engine';
import { contextFits, inProcessVerdict } from './in-process';
import type { RenderTask } from './render-thread';
import { Lru } from '../lru';

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
  /**
   * Render templates that are bounded by their shape and size on the caller's thread, metered,
   * instead of in a thread (see `in-process.ts`); off, every render goes to a thread.
   * @default true
   */
  inProcess?: boolean;
}

/** A template cleared to render on the caller's thread, compiled there once. */
interface LocalTemplate {
  tpl: CompiledTemplate;
  meter: RenderMeter;
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
 * Renders webhook bodies so that time, memory, loop count and output size are all bounded: in
 * worker threads, where a template that runs too long is stopped with its thread, not the process;
 * or, for a small template whose shape bounds its work, on the caller's thread under a meter that
 * hands it to a thread the moment it outgrows it (`in-process.ts` has the rule). Either way the
 * result is the same.
 */
export class TemplateRenderer {
  /**
   * Started by the first render that needs a thread, and kept from then on: most templates render on
   * the caller's thread, and an idle thread's heap costs about 12 MiB of the process's memory.
   */
  private pool: Promise<Piscina> | undefined;
  private readonly poolOptions: ConstructorParameters<typeof Piscina>[0];
  private readonly timeoutMs: number;
  private readonly limits: RenderLimits;
  /** By cache key: the compiled template, or null when it renders in a thread. */
  private readonly local: Lru<string, LocalTemplate | null> | undefined;

  constructor(opts: RendererOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.local = opts.inProcess === false ? undefined : new Lru(2000);
    const threads = opts.threads ?? 2;
    this.poolOptions = {
      filename: opts.threadFile ?? compiledThreadFile(),
      minThreads: 1,
      maxThreads: threads,
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: opts.memoryMb ?? 128, maxYoungGenerationSizeMb: 16 },
    };
  }

  /** The thread pool, started on first use with one thread warmed up outside any render's time limit. */
  private threads(): Promise<Piscina> {
    this.pool ??= (async () => {
      const pool = new Piscina(this.poolOptions);
      try {
        // Loading the thread's modules is not the template's time: a trivial render absorbs it.
        const warm: RenderTask = { source: '{}', context: { person: {}, event: {} }, limits: this.limits };
        await pool.run(warm);
        return pool;
      } catch (err) {
        await pool.destroy();
        throw err;
      }
    })().catch((err: unknown) => {
      this.pool = undefined;
      throw err;
    });
    return this.pool;
  }

  /** The template as cleared for the caller's thread, or null; keyed like the threads' cache. */
  private localTemplate(source: string, key: string | undefined): LocalTemplate | null {
    if (!this.local) return null;
    const k = key ?? crypto.createHash('sha256').update(source).digest('hex');
    let found = this.local.get(k);
    if (found === undefined) {
      const verdict = inProcessVerdict(source);
      found = null;
      if (verdict.inProcess) {
        try {
          found = { tpl: compileTemplate(source), meter: verdict.meter };
        } catch {
          // A template that does not compile is reported by the thread, worded as it always is.
        }
      }
      this.local.set(k, found);
    }
    return found;
  }

  /** Never rejects for a template problem: the result says what went wrong. */
  async render(source: string, context: TemplateContext, key?: string): Promise<JsonRender> {
    const local = this.localTemplate(source, key);
    if (local && contextFits(context)) {
      try {
        return renderJson(local.tpl, context, this.limits, local.meter);
      } catch (err) {
        // Outgrew its meter: rendered again below, in a thread, under the full limits.
        if (!(err instanceof MeterExceeded)) throw err;
      }
    }
    const task: RenderTask = { source, context, limits: this.limits };
    if (key !== undefined) task.key = key;
    const pool = await this.threads();
    try {
      return (await pool.run(task, { signal: AbortSignal.timeout(this.timeoutMs) })) as JsonRender;
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

  /** Whether the thread pool has been started (by a render that needed a thread). */
  get threadsStarted(): boolean {
    return this.pool !== undefined;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await (await pool.catch(() => undefined))?.destroy();
  }
}
