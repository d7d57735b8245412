import http from 'node:http';
import type { Socket } from 'node:net';
import type { Application, Express, RequestHandler } from 'express';
import { HttpError } from '../errors';

/** The HTTP server's bounds on slow clients (config `api.server`). */
export interface ServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Connections (or, behind a trusted proxy, requests in flight) per client address; 0: none. */
  maxConnectionsPerClient: number;
}

/** Sockets refused at connection time: any request parsed on them anyway is dropped unanswered. */
const refused = new WeakSet<Socket>();

const RETRY_AFTER_SECONDS = 1;

const REFUSAL_CODE = 'too_many_connections';

function refusalMessage(max: number, proxied: boolean): string {
  return proxied
    ? `this client address already has ${max} requests in flight; wait for one to finish`
    : `this client address already has ${max} connections open; reuse one (keep-alive) or close one`;
}

/** Express's compiled `trust proxy` setting: is the peer at `addr` a proxy we believe? */
type TrustFn = (addr: string, hop: number) => boolean;

function trustOf(app: Application): TrustFn {
  return app.get('trust proxy fn') as TrustFn;
}

/**
 * The API's HTTP server, bounding slow clients (header and request timeouts, idle keep-alive) and
 * the connections each client address holds. Connections from a trusted proxy carry many clients,
 * so they are not counted here: {@link requestsPerClient} counts those clients' requests.
 */
export function createLimitedServer(app: Express, limits: ServerLimits): http.Server {
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node checks the two timeouts at this interval (30 s by default): a bound of a few seconds
      // must be checked more often to hold.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    app,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  limitConnections(server, app, limits.maxConnectionsPerClient);
  return server;
}

function limitConnections(server: http.Server, app: Express, max: number): void {
  if (max === 0) return;
  const open = new Map<string, number>();
  const trusted = trustOf(app);
  // Before the HTTP server's own listener: a refused socket never reaches a route.
  server.prependListener('connection', (socket: Socket) => {
    const addr = socket.remoteAddress;
    if (addr === undefined || trusted(addr, 0)) return;
    const n = (open.get(addr) ?? 0) + 1;
    if (n > max) {
      refused.add(socket);
      const body = JSON.stringify({
        error: { code: REFUSAL_CODE, message: refusalMessage(max, false), details: [] },
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      });
      socket.end(
        'HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json; charset=utf-8\r\n' +
          `retry-after: ${RETRY_AFTER_SECONDS}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      // A peer that never reads must not keep the socket: it is cut shortly after.
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    open.set(addr, n);
    socket.once('close', () => {
      const left = (open.get(addr) ?? 1) - 1;
      if (left <= 0) open.delete(addr);
      else open.set(addr, left);
    });
  });
}

/**
 * Requests in flight per forwarded client address, for requests that came through a trusted proxy
 * (the others are bounded per connection by {@link limitClients}). Also drops requests parsed on
 * a socket that was refused at connection time.
 */
export function requestsPerClient(max: number): RequestHandler {
  const inFlight = new Map<string, number>();
  return (req, res, next) => {
    if (refused.has(req.socket)) {
      req.socket.destroy();
      return;
    }
    const peer = req.socket.remoteAddress;
    if (max === 0 || peer === undefined || !trustOf(req.app)(peer, 0)) return next();
    const client = req.ip ?? peer;
    const n = (inFlight.get(client) ?? 0) + 1;
    if (n > max) {
      res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      return next(
        new HttpError(429, REFUSAL_CODE, refusalMessage(max, true), [], {
          extra: { retryAfterSeconds: RETRY_AFTER_SECONDS },
        }),
      );
    }
    inFlight.set(client, n);
    res.once('close', () => {
      const left = (inFlight.get(client) ?? 1) - 1;
      if (left <= 0) inFlight.delete(client);
      else inFlight.set(client, left);
    });
    next();
  };
}
