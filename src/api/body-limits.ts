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
  // Paths are built only for the refusal: each entry links to its parent instead.
  interface Entry {
    v: unknown;
    depth: number;
    parent: Entry | undefined;
    key: string | number;
  }
  const pathOf = (e: Entry): string => {
    let out = '';
    for (let at: Entry | undefined = e; at?.parent; at = at.parent)
      out = typeof at.key === 'number' ? `[${at.key}]${out}` : `.${at.key}${out}`;
    return out === '' ? '(body)' : out.replace(/^\./, '');
  };
  const stack: Entry[] = [{ v: value, depth: 1, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const e = stack.pop()!;
    const v = e.v;
    if (v === null || typeof v !== 'object') continue;
    if (e.depth > maxDepth) return pathOf(e);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (item !== null && typeof item === 'object')
          stack.push({ v: item, depth: e.depth + 1, parent: e, key: i });
      }
      continue;
    }
    const obj = v as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      const item = obj[key];
      if (PROTOTYPE_KEYS.has(key)) delete obj[key];
      else if (item !== null && typeof item === 'object')
        stack.push({ v: item, depth: e.depth + 1, parent: e, key });
    }
  }
  return undefined;
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
