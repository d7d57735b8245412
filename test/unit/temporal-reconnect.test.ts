import http2 from 'node:http2';
import net from 'node:net';
import { Connection } from '@temporalio/client';
import { clientConnectionOptions } from '../../src/temporal/connection';
import { freePort } from '../../src/temporal/ports';

/**
 * The reconnect backoff of hookflow's Temporal client connections, with the real client and gRPC
 * stack against loopback servers: first one that accepts and drops every connection (a frontend
 * that is down, each reconnect attempt visible), then, right after an attempt, a gRPC endpoint.
 * With grpc's default backoff (×1.6 per failure, up to 120 s) the next attempt after 15 s of
 * failures comes 6 s or more later; capped, within about 2 s.
 */

const OUTAGE_MS = 15_000;
const UNIMPLEMENTED = 12;

function listen(server: net.Server | http2.Http2Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function close(server: net.Server | http2.Http2Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

test('after a 15 s outage the client connects within about 2 s of the server answering again', async () => {
  const port = await freePort();
  let attempts = 0;
  let onAttempt: () => void = () => {};
  const down = net.createServer((socket) => {
    attempts++;
    socket.destroy();
    onAttempt();
  });
  await listen(down, port);
  // Any RPC answered "unimplemented": the client reached a gRPC server.
  const up = http2.createServer();
  up.on('stream', (stream) => {
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(UNIMPLEMENTED) },
      { endStream: true },
    );
  });

  const connection = Connection.lazy(clientConnectionOptions(`127.0.0.1:${port}`));
  let answeredAt: number | undefined;
  const inFlight = new Set<Promise<unknown>>();
  const ask = () => {
    const call = connection
      .withDeadline(Date.now() + 500, () => connection.workflowService.getSystemInfo({}))
      .then(
        () => (answeredAt ??= Date.now()),
        (err: { code?: number }) => err.code === UNIMPLEMENTED && (answeredAt ??= Date.now()),
      )
      .finally(() => inFlight.delete(call));
    inFlight.add(call);
  };
  // Calls keep coming during the outage, as events and readiness probes do.
  const demand = setInterval(() => void ask(), 200);
  try {
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    expect(answeredAt).toBeUndefined();
    expect(attempts).toBeGreaterThan(2);
    // The server comes back just after a failed attempt: the client's next one is a full backoff away.
    await new Promise<void>((resolve) => (onAttempt = resolve));
    await close(down);
    await listen(up, port);
    const back = Date.now();
    const deadline = back + 20_000;
    while (answeredAt === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(answeredAt).toBeDefined();
    expect(answeredAt! - back).toBeLessThan(3000);
  } finally {
    clearInterval(demand);
    // A call still retrying when the channel closes would throw from its retry timer.
    await Promise.all(inFlight);
    await connection.close();
    if (down.listening) await close(down);
    if (up.listening) await close(up);
  }
}, 60_000);
