import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KeyPair } from './certs';

export interface ReceivedRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * What the receiver does with a request; `hang` never answers, `reset` drops the connection;
 * `delayMs` answers that much later (a slow endpoint).
 */
export type Reply =
  | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }
  | { action: 'hang' | 'reset' | 'close-early' };

/**
 * An HTTPS endpoint on 127.0.0.1 that records every request and answers from a script per path:
 * each request to a path takes the next scripted reply; the last one repeats. Unscripted: 200.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly scripts = new Map<string, Reply[]>();
  private readonly headScripts = new Map<string, Reply>();
  private readonly hanging = new Set<ServerResponse>();
  private inFlight = 0;
  /** The most requests this receiver has held open at once (a slow endpoint counts its concurrency). */
  maxInFlight = 0;

  private constructor(private readonly server: https.Server) {}

  /** `port`: a given one (a receiver brought back on the port of one that was closed), else a free one. */
  static async start(tls: KeyPair, port = 0): Promise<Receiver> {
    const holder: { self?: Receiver } = {};
    const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) =>
      holder.self!.handle(req, res),
    );
    const self = new Receiver(server);
    holder.self = self;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `https://127.0.0.1:${this.port}${path}`;
  }

  /** Replies to POSTs on `path`, in order; the last one repeats. */
  script(path: string, ...replies: Reply[]): void {
    this.scripts.set(path, replies);
  }

  /** The reply to HEAD requests (hookflow's save-time probe) on `path`; 200 when not set. */
  scriptHead(path: string, reply: Reply): void {
    this.headScripts.set(path, reply);
  }

  /** Serves another certificate to new connections: the endpoint changed after it was checked. */
  useCertificate(tls: KeyPair): void {
    this.server.setSecureContext({ key: tls.key, cert: tls.cert });
  }

  /** The POSTs (deliveries and test sends) that reached `path`. */
  received(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path && r.method === 'POST');
  }

  /** The HEAD probes of save-time checks that reached `path`. */
  probes(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path && r.method === 'HEAD');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    // A request is done when its answer is written: the 'close' event may come a turn later, after
    // the next request (sent once the client read this answer) was already counted.
    let done = false;
    const finished = () => {
      if (!done) this.inFlight--;
      done = true;
    };
    res.once('close', finished);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      this.requests.push({
        at: Date.now(),
        method: req.method ?? '',
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const script = this.scripts.get(path);
      let reply: Reply = { status: 200 };
      if (req.method === 'HEAD') reply = this.headScripts.get(path) ?? { status: 200, body: '' };
      else if (script && script.length > 0) reply = script.length > 1 ? script.shift()! : script[0]!;
      if ('action' in reply) {
        if (reply.action === 'hang') this.hanging.add(res);
        else if (reply.action === 'reset') req.socket.destroy();
        else {
          res.writeHead(200, { 'content-length': '1000' });
          res.write('partial');
          setTimeout(() => req.socket.destroy(), 20);
        }
        return;
      }
      const answer = reply;
      const send = () => {
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        finished();
        res.end(answer.body ?? JSON.stringify({ received: true }));
      };
      if (answer.delayMs === undefined) send();
      else setTimeout(send, answer.delayMs);
    });
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
