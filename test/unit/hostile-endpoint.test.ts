import net from 'node:net';
import { parsePolicy } from '../../src/webhooks/outbound';
import type { SendResult } from '../../src/webhooks/send';
import { EXCERPT_BYTES, createDispatcher, sendWebhook } from '../../src/webhooks/send';

/**
 * Endpoints that answer to hurt the sender: the worker's send reads a bounded amount, the attempt
 * ends classified, and memory stays flat. A raw TCP server writes exactly the bytes of each case.
 */

type Handler = (socket: net.Socket) => void;

let server: net.Server;
let port: number;
let handler: Handler = () => undefined;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // Answer once the request head arrived (the body is small and follows at once).
    socket.once('data', () => handler(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const TIMEOUT_MS = 1500;
const MAX_RESPONSE_BYTES = 64 * 1024;

async function send(): Promise<SendResult> {
  const dispatcher = createDispatcher({
    connectTimeoutMs: 1000,
    policy: parsePolicy('127.0.0.1', '*'),
  });
  try {
    return await sendWebhook(
      { url: `http://127.0.0.1:${port}/hook`, headers: {}, body: '{}', idempotencyKey: 'k' },
      { dispatcher, timeoutMs: TIMEOUT_MS, maxResponseBytes: MAX_RESPONSE_BYTES, retryAfterMaxMs: 1000 },
    );
  } finally {
    await dispatcher.destroy();
  }
}

test('HTML with a script is kept as text in the excerpt (pages escape it), at most 2 KiB of it', async () => {
  const html = `<html><script>window.__pwned = 1; document.title = "pwned"</script>${'x'.repeat(5000)}</html>`;
  handler = (s) =>
    s.end(
      `HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ncontent-length: ${html.length}\r\n\r\n${html}`,
    );
  const r = await send();
  expect(r).toMatchObject({ class: 'retryable', httpStatus: 500 });
  expect(r.excerpt?.startsWith('<html><script>window.__pwned = 1;')).toBe(true);
  expect(Buffer.byteLength(r.excerpt ?? '')).toBe(EXCERPT_BYTES);
});

test('a 1 GB body is never buffered: the read stops at the bound and memory stays flat', async () => {
  const GB = 1024 ** 3;
  let written = 0;
  handler = (s) => {
    s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${GB}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    // Writes as fast as the reader takes it, until the reader goes away.
    const pump = () => {
      while (!s.destroyed && written < GB) {
        written += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
    };
    pump();
  };
  const rssBefore = process.memoryUsage().rss;
  const started = Date.now();
  const r = await send();
  expect(r).toMatchObject({ class: 'delivered', httpStatus: 200 });
  expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
  expect(Buffer.byteLength(r.excerpt ?? '')).toBe(EXCERPT_BYTES);
  // Socket buffers let the endpoint get ahead of the reader a little, never by much.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(written).toBeLessThan(64 * 1024 * 1024);
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
});

test('a body that never ends: the attempt ends at the timeout, retryable', async () => {
  handler = (s) => {
    s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
    const drip = setInterval(() => (s.destroyed ? clearInterval(drip) : s.write('1\r\na\r\n')), 50);
    s.once('close', () => clearInterval(drip));
  };
  const started = Date.now();
  const r = await send();
  const took = Date.now() - started;
  expect(r).toMatchObject({ class: 'retryable', errorClass: 'timeout' });
  expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  expect(took).toBeLessThan(TIMEOUT_MS + 1500);
});

test('10,000 response headers: reading stops at 16 KiB and the attempt is classified', async () => {
  const headers = Array.from({ length: 10_000 }, (_, i) => `x-h${i}: v\r\n`).join('');
  handler = (s) => s.end(`HTTP/1.1 200 OK\r\n${headers}content-length: 0\r\n\r\n`);
  const r = await send();
  expect(r).toMatchObject({ class: 'retryable', errorClass: 'invalid_response' });
  expect(r.reason).toMatch(/headers are larger than 16 KiB/);
});
