import type http from 'node:http';
import net from 'node:net';
import express from 'express';
import { jsonBody } from '../../src/api/body-limits';
import { createLimitedServer, requestsPerClient } from '../../src/api/client-limits';
import type { ServerLimits } from '../../src/api/client-limits';
import { errorHandler } from '../../src/api/middleware';
import { createLogger } from '../../src/logger';

/**
 * The API's limits on hostile input, on a real HTTP server built as the API builds its own: the
 * JSON body parser, the per-client request bound, the error handler and the limited server.
 */

interface Running {
  url: string;
  port: number;
  server: http.Server;
  /** Releases the requests held by `GET /hold`. */
  release(): void;
}

const DEFAULT_SERVER: ServerLimits = {
  headersTimeoutMs: 1000,
  requestTimeoutMs: 1500,
  keepAliveTimeoutMs: 5000,
  maxConnectionsPerClient: 3,
};

async function start(opts: { server?: Partial<ServerLimits>; trustProxy?: string } = {}): Promise<Running> {
  const limits = { ...DEFAULT_SERVER, ...opts.server };
  const app = express();
  app.set('trust proxy', opts.trustProxy ?? false);
  app.use(requestsPerClient(limits.maxConnectionsPerClient));
  app.use(jsonBody({ maxBytes: 512 * 1024, maxDepth: 64 }));
  let waiting: (() => void)[] = [];
  app.post('/echo', (req, res) => {
    res.json({ body: req.body as unknown, polluted: ({} as Record<string, unknown>).polluted ?? null });
  });
  app.get('/hold', (_req, res) => {
    waiting.push(() => res.json({ ok: true }));
  });
  app.get('/slow', (_req, res) => {
    setTimeout(() => res.json({ ok: true }), 2500);
  });
  app.get('/ok', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(errorHandler(createLogger('test', 'silent')));
  const server = createLimitedServer(app, limits);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    release() {
      const w = waiting;
      waiting = [];
      w.forEach((f) => f());
    },
  };
}

async function stop(r: Running): Promise<void> {
  r.release();
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
}

const post = (url: string, body: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

/** Opens a raw connection and waits until it is connected. */
function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with the ms until the server closed `socket`, and what it sent before. */
function closedAfter(socket: net.Socket): Promise<{ ms: number; received: string }> {
  const started = Date.now();
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => undefined);
  return new Promise((resolve) =>
    socket.once('close', () => resolve({ ms: Date.now() - started, received })),
  );
}

describe('JSON bodies', () => {
  let api: Running;
  beforeAll(async () => {
    api = await start();
  });
  afterAll(() => stop(api));

  test('a body over the limit is refused with 413 naming the limit', async () => {
    const res = await post(`${api.url}/echo`, JSON.stringify({ pad: 'x'.repeat(600 * 1024) }));
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { code: string; message: string; details: unknown[] } };
    expect(body.error.code).toBe('payload_too_large');
    expect(body.error.message).toMatch(/larger than the limit of 512 KiB/);
    expect(body.error.details).toEqual([
      { path: '(body)', message: expect.stringMatching(/at most 524288 bytes/) as string },
    ]);
  });

  test('nesting is bounded: 64 levels pass, 65 are refused with 400 naming where', async () => {
    const nest = (n: number) => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);
    expect((await post(`${api.url}/echo`, nest(64))).status).toBe(200);
    const res = await post(`${api.url}/echo`, nest(65));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; details: { path: string }[] } };
    expect(body.error.code).toBe('too_deep');
    expect(body.error.details[0]!.path).toBe(Array.from({ length: 64 }, () => 'a').join('.'));
    const arrays = await post(`${api.url}/echo`, JSON.stringify({ list: [1, [2, [3]]] }));
    expect(arrays.status).toBe(200);
  });

  test('100,000 levels of nesting (200 KB) are refused quickly and the server keeps answering', async () => {
    const started = Date.now();
    const res = await post(`${api.url}/echo`, '['.repeat(100_000) + ']'.repeat(100_000));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { details: { path: string }[] } }).error.details[0]!.path).toMatch(
      /^\[0\](\[0\])+$/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await fetch(`${api.url}/ok`)).status).toBe(200);
  });

  test('prototype keys are dropped at the edge: nothing is polluted and the rest is kept', async () => {
    const raw =
      '{"__proto__": {"polluted": true}, "a": {"constructor": {"prototype": {"polluted": true}}, "b": 1},' +
      ' "list": [{"__proto__": {"polluted": true}, "c": 2}]}';
    const res = await post(`${api.url}/echo`, raw);
    expect(res.status).toBe(200);
    const out = (await res.json()) as { body: unknown; polluted: unknown };
    expect(out).toEqual({ body: { a: { b: 1 }, list: [{ c: 2 }] }, polluted: null });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('slow clients', () => {
  let api: Running;
  beforeAll(async () => {
    api = await start();
  });
  afterAll(() => stop(api));

  test('a client trickling its headers is cut off near the headers timeout', async () => {
    const socket = await connect(api.port);
    const closed = closedAfter(socket);
    socket.write('GET /ok HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
    const { ms, received } = await closed;
    clearInterval(trickle);
    // headersTimeout 1000 ms, checked every second: cut within about two seconds, not 60.
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(3000);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(received.split('\r\n\r\n')[1] ?? '')).toEqual({
      error: { code: 'request_timeout', message: 'the request was not received in time', details: [] },
    });
  });

  test('a client trickling its body is cut off near the request timeout', async () => {
    const socket = await connect(api.port);
    const closed = closedAfter(socket);
    socket.write(
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[',
    );
    const trickle = setInterval(() => socket.writable && socket.write('1,'), 100);
    const { ms, received } = await closed;
    clearInterval(trickle);
    expect(ms).toBeGreaterThanOrEqual(1400);
    expect(ms).toBeLessThan(4000);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });

  test('requests Node refuses itself get the JSON error shape: headers too large (431), not HTTP (400)', async () => {
    const big = await connect(api.port);
    const bigClosed = closedAfter(big);
    big.write(`GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const [head = '', body = ''] = (await bigClosed).received.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(body)).toEqual({
      error: { code: 'headers_too_large', message: expect.stringMatching(/16 KiB/) as string, details: [] },
    });
    const junk = await connect(api.port);
    const junkClosed = closedAfter(junk);
    junk.write('HELLO\r\n\r\n');
    const [junkHead = '', junkBody = ''] = (await junkClosed).received.split('\r\n\r\n');
    expect(junkHead).toMatch(/^HTTP\/1\.1 400 /);
    expect((JSON.parse(junkBody) as { error: { code: string } }).error.code).toBe('bad_request');
  });

  test('a request received in full is answered however long the handler takes', async () => {
    const res = await fetch(`${api.url}/slow`);
    expect(res.status).toBe(200);
  });
});

describe('connections per client address', () => {
  test('beyond the bound a connection is answered 429 JSON and closed; once one closes, a new one is served', async () => {
    const api = await start({ server: { maxConnectionsPerClient: 3 } });
    try {
      const held = await Promise.all([connect(api.port), connect(api.port), connect(api.port)]);
      const extra = await connect(api.port);
      const { received } = await closedAfter(extra);
      const [head = '', body = ''] = received.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 429 /);
      expect(head).toMatch(/retry-after: 1/i);
      expect(JSON.parse(body)).toEqual({
        error: {
          code: 'too_many_connections',
          message: expect.stringMatching(/3 connections/) as string,
          details: [],
        },
        retryAfterSeconds: 1,
      });
      held[0].destroy();
      await new Promise((r) => setTimeout(r, 100));
      const again = await connect(api.port);
      const answered = closedAfter(again);
      again.end('GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect((await answered).received).toMatch(/^HTTP\/1\.1 200 /);
      held.forEach((s) => s.destroy());
    } finally {
      await stop(api);
    }
  });

  test('behind a trusted proxy the forwarded address is counted per request, not the proxy connection', async () => {
    const api = await start({ trustProxy: 'loopback', server: { maxConnectionsPerClient: 2 } });
    try {
      const hold = (client: string) => fetch(`${api.url}/hold`, { headers: { 'x-forwarded-for': client } });
      // Two requests in flight for one client; the proxy's own connections are not limited.
      const first = [hold('203.0.113.7'), hold('203.0.113.7')];
      await new Promise((r) => setTimeout(r, 200));
      const third = await hold('203.0.113.7');
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBe('1');
      expect(((await third.json()) as { error: { code: string } }).error.code).toBe('too_many_connections');
      const other = hold('198.51.100.9');
      await new Promise((r) => setTimeout(r, 200));
      api.release();
      expect((await Promise.all([...first, other])).map((r) => r.status)).toEqual([200, 200, 200]);
      // Once they finished, the client may send again.
      const later = hold('203.0.113.7');
      await new Promise((r) => setTimeout(r, 200));
      api.release();
      expect((await later).status).toBe(200);
    } finally {
      await stop(api);
    }
  });
});
