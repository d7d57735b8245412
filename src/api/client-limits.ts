import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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
  server.on('clientError', answerClientError);
  limitConnections(server, app, limits.maxConnectionsPerClient);
  return server;
}

/** A raw HTTP/1.1 response with the API's JSON error body; the connection closes after it. */
function rawRefusal(
  status: number,
  reason: string,
  code: string,
  message: string,
  retryAfterSeconds?: number,
): string {
  const body = JSON.stringify({
    error: { code, message, details: [] },
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
  const retry = retryAfterSeconds === undefined ? '' : `retry-after: ${retryAfterSeconds}\r\n`;
  return (
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n${retry}` +
    `connection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/**
 * Requests Node refuses before Express sees them (too slow, headers too large, not HTTP) get the
 * API's JSON error shape instead of a bare status line, as Node's own handler would send one.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A response already under way on this connection cannot be followed by another.
  const busy = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (err.code === 'ECONNRESET' || !socket.writable || busy) {
    socket.destroy();
    return;
  }
  let response: string;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    response = rawRefusal(408, 'Request Timeout', 'request_timeout', 'the request was not received in time');
  else if (err.code === 'HPE_HEADER_OVERFLOW')
    response = rawRefusal(
      431,
      'Request Header Fields Too Large',
      'headers_too_large',
      'the request headers are larger than the server accepts (16 KiB)',
    );
  else response = rawRefusal(400, 'Bad Request', 'bad_request', 'the request is not valid HTTP');
  // The server keeps half-open sockets: once the answer is out, a client still trickling is cut.
  socket.end(response, () => socket.destroy());
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
      socket.end(
        rawRefusal(429, 'Too Many Requests', REFUSAL_CODE, refusalMessage(max, false), RETRY_AFTER_SECONDS),
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
