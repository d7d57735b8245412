import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KeyPair } from '../test/harness/certs';

/** One POST the chaos receiver got: which event (`seq`), its Idempotency-Key, and what it answered. */
export interface ChaosRequest {
  path: string;
  seq: number;
  idempotencyKey: string | undefined;
  status: number;
  at: number;
}

/** `ok`: 200; `unavailable`: 503 to every request; `refusing`: not listening (connections refused). */
export type ReceiverMode = 'ok' | 'unavailable' | 'refusing';

/**
 * The endpoint of the fault suite: an HTTPS server on 127.0.0.1 that records, for each request,
 * the event it carried and the answer it gave, so a scenario counts what was really delivered
 * (answered 2xx) and what was only tried. It can answer 503 or stop listening on its port.
 */
export class ChaosReceiver {
  readonly requests: ChaosRequest[] = [];
  private mode: ReceiverMode = 'ok';
  /**
   * How long each answer takes: a real endpoint's latency, which also keeps requests in flight
   * for a fault to hit (a worker killed between sending and hearing back).
   */
  answerDelayMs = 200;
  /** Requests received and not answered yet. */
  inFlight = 0;

  private constructor(
    private readonly server: https.Server,
    readonly port: number,
  ) {}

  static async start(tls: KeyPair): Promise<ChaosReceiver> {
    const holder: { self?: ChaosReceiver } = {};
    const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) =>
      holder.self!.handle(req, res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const self = new ChaosReceiver(server, (server.address() as AddressInfo).port);
    holder.self = self;
    return self;
  }

  url(path: string): string {
    return `https://127.0.0.1:${this.port}${path}`;
  }

  /** The requests to `path` the receiver answered 2xx: the deliveries the endpoint accepted. */
  delivered(path: string): ChaosRequest[] {
    return this.requests.filter((r) => r.path === path && r.seq >= 0 && r.status < 300);
  }

  /** Switches how the receiver answers; `refusing` closes the port (and open connections) until the next mode. */
  async setMode(mode: ReceiverMode): Promise<void> {
    if (mode === this.mode) return;
    const was = this.mode;
    this.mode = mode;
    if (mode === 'refusing') {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await closed;
    } else if (was === 'refusing') {
      await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let seq = -1;
      try {
        seq = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { seq: number }).seq;
      } catch {
        // Not one of the suite's events: recorded with seq -1, never counted as a delivery of one.
      }
      const status = this.mode === 'ok' ? 200 : 503;
      // Save-time probes (HEAD) are no deliveries: answered, not recorded.
      if (req.method !== 'POST') {
        res.writeHead(status).end();
        return;
      }
      const key = req.headers['idempotency-key'];
      this.requests.push({
        path: req.url ?? '/',
        seq,
        idempotencyKey: Array.isArray(key) ? key[0] : key,
        status,
        at: Date.now(),
      });
      this.inFlight++;
      setTimeout(() => {
        this.inFlight--;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 200 ? '{"received":true}' : '{"error":"unavailable"}');
      }, this.answerDelayMs);
    });
  }

  async close(): Promise<void> {
    if (this.mode === 'refusing') return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
