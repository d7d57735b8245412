import type { RequestHandler } from 'express';
import express from 'express';
import { HttpError } from '../errors';

/** Bounds on a JSON request body, read from config (`api.body`). */
export interface BodyLimits {
  /** Largest body accepted, in bytes; a larger one is answered 413 before it is parsed. */
  maxBytes: number;
  /** Deepest nesting of objects and arrays accepted (the top level counts 1); deeper: 400. */
  maxDepth: number;
}

/**
 * Keys that could reach an object's prototype if code ever merged a body into another object.
 * They are dropped from every JSON body at the edge, so events, profiles and flows never store them.
 */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function describeBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * Walks a parsed body once, without recursion (a hostile body may nest 100,000 levels): drops
 * {@link PROTOTYPE_KEYS} and returns the path of the first value nested deeper than `maxDepth`.
 */
export function sanitizeBody(value: unknown, maxDepth: number): string | undefined {
  // Two parallel stacks and no paths: the walk runs on every body, the path only for a refusal.
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > maxDepth) return pathTooDeep(value, maxDepth);
    if (Array.isArray(v)) {
      for (const item of v as unknown[]) {
        if (item !== null && typeof item === 'object') {
          values.push(item);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    const obj = v as Record<string, unknown>;
    for (const key of PROTOTYPE_KEYS) if (Object.hasOwn(obj, key)) delete obj[key];
    for (const item of Object.values(obj)) {
      if (item !== null && typeof item === 'object') {
        values.push(item);
        depths.push(depth + 1);
      }
    }
  }
  return undefined;
}

/** The path (`a.b[3].c`) of the first value nested deeper than `maxDepth`, found without recursion. */
function pathTooDeep(value: unknown, maxDepth: number): string {
  interface Entry {
    v: unknown;
    depth: number;
    parent: Entry | undefined;
    key: string | number;
  }
  const stack: Entry[] = [{ v: value, depth: 1, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.v === null || typeof e.v !== 'object') continue;
    if (e.depth > maxDepth) {
      let out = '';
      for (let at: Entry | undefined = e; at?.parent; at = at.parent)
        out = typeof at.key === 'number' ? `[${at.key}]${out}` : `.${at.key}${out}`;
      return out.replace(/^\./, '');
    }
    const entries: [string | number, unknown][] = Array.isArray(e.v)
      ? (e.v as unknown[]).map((item, i) => [i, item])
      : Object.entries(e.v);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, v] = entries[i]!;
      stack.push({ v, depth: e.depth + 1, parent: e, key });
    }
  }
  return '(body)';
}

/**
 * The JSON body parser of the API: at most `maxBytes` (413 naming the limit), nested at most
 * `maxDepth` deep (400 naming where), prototype keys dropped. Bodies of other types are left alone.
 */
export function jsonBody(limits: BodyLimits): RequestHandler[] {
  const parse = express.json({ limit: limits.maxBytes, strict: false });
  const tooLarge = (received: number | undefined) =>
    new HttpError(
      413,
      'payload_too_large',
      `the request body is larger than the limit of ${describeBytes(limits.maxBytes)}`,
      [
        {
          path: '(body)',
          message: `must be at most ${limits.maxBytes} bytes${received === undefined ? '' : ` (got ${received})`}`,
        },
      ],
      { extra: { limitBytes: limits.maxBytes } },
    );
  return [
    (req, res, next) =>
      parse(req, res, (err?: unknown) => {
        const e = err as { type?: string; length?: number } | undefined;
        if (e?.type === 'entity.too.large') next(tooLarge(e.length));
        else next(err);
      }),
    (req, _res, next) => {
      const deep = req.body === undefined ? undefined : sanitizeBody(req.body, limits.maxDepth);
      if (deep === undefined) return next();
      next(
        new HttpError(
          400,
          'too_deep',
          `the request body is nested deeper than the limit of ${limits.maxDepth} levels`,
          [{ path: deep, message: `is nested deeper than ${limits.maxDepth} levels` }],
        ),
      );
    },
  ];
}
