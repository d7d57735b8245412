import type { ErrorRequestHandler, RequestHandler } from 'express';
import { HttpError } from '../errors';
import { isDatabaseUnavailable } from '../db/unavailable';
import { sendRefusal } from './errors';
import type { Logger } from '../logger';

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
}

/** Logs method, path, status and time; never bodies or headers (they carry secrets). */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      logger.info(
        {
          method: req.method,
          // The path as requested: inside a mounted router, req.path has lost the mount point.
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          ms: Math.round(performance.now() - started),
        },
        'request',
      );
    });
    next();
  };
}

/** Methods that change data: the Origin check and the CSRF check apply to them. */
export const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Browsers send `Origin` on cross-site requests: a page elsewhere must not be able to make a
 * signed-in or local user's browser resend deliveries or change flows. API clients send no Origin.
 */
export const sameOriginWrites: RequestHandler = (req, _res, next) => {
  const origin = req.get('origin');
  if (
    UNSAFE.has(req.method) &&
    origin !== undefined &&
    origin !== `${req.protocol}://${req.get('host') ?? ''}`
  ) {
    next(
      new HttpError(
        403,
        'cross_origin',
        `requests that change data are refused from another site (${origin})`,
      ),
    );
    return;
  }
  next();
};

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (sendRefusal(res, err)) return;
    const bp = err as BodyParserError;
    if (bp?.type === 'entity.parse.failed') {
      res.status(400).json({
        error: {
          code: 'malformed_json',
          message: 'the request body is not valid JSON',
          details: [{ path: '(body)', message: bp.message }],
        },
      });
      return;
    }
    if (bp?.type === 'entity.too.large') {
      res.status(413).json({
        error: { code: 'payload_too_large', message: 'the request body is too large', details: [] },
      });
      return;
    }
    if (bp?.expose && typeof bp.status === 'number' && bp.status >= 400 && bp.status < 500) {
      res
        .status(bp.status)
        .json({ error: { code: bp.type ?? 'bad_request', message: bp.message, details: [] } });
      return;
    }
    // A locked or stopped database is an outage to wait out, not a fault: the client may send again.
    if (isDatabaseUnavailable(err)) {
      logger.warn({ err }, 'database unavailable');
      res.setHeader('Retry-After', '5');
      res.status(503).json({
        error: {
          code: 'database_unavailable',
          message: 'the database is unavailable; try again shortly',
          details: [],
        },
        retryAfterSeconds: 5,
      });
      return;
    }
    logger.error({ err }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error', details: [] } });
  };
}
