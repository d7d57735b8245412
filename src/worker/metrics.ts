import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DeliveryMetrics } from '../activities/deliver-webhook';
import type { DeliveryEnd } from '../shared/delivery-outcome';
import type { CircuitState } from '../shared/destination-guard';

/** Seconds buckets for one webhook attempt: endpoints answer in tens of ms to the 10 s timeout. */
const ATTEMPT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds buckets for rendering a body: usually well under a millisecond, slow templates more. */
const RENDER_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The worker's own Prometheus metrics (the Temporal SDK's are served on their own port). */
export class WorkerMetrics implements DeliveryMetrics {
  readonly registry = new Registry();
  private readonly attempts: Counter<'outcome'>;
  private readonly deliveries: Counter<'outcome'>;
  private readonly attemptSeconds: Histogram<'host'>;
  private readonly renderSeconds: Histogram;
  private readonly recorded: Counter<'to'>;
  private readonly runs: Counter;
  private readonly transitions: Counter<'to'>;
  private openDestinations: () => Promise<number> = () => Promise.resolve(0);

  /** `spoolRecords` counts the attempt records waiting on disk, read at each scrape. */
  constructor(spoolRecords: () => number) {
    collectDefaultMetrics({ register: this.registry, prefix: 'hookflow_worker_' });
    const registers = [this.registry];
    this.attempts = new Counter({
      name: 'hookflow_webhook_attempts_total',
      help: 'Webhook attempts by outcome (delivered, retryable, non_retryable).',
      labelNames: ['outcome'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'hookflow_deliveries_total',
      help: 'Deliveries that ended, by outcome (delivered, failed, skipped).',
      labelNames: ['outcome'],
      registers,
    });
    this.attemptSeconds = new Histogram({
      name: 'hookflow_webhook_attempt_duration_seconds',
      help: 'Time of one webhook attempt, connect to last byte read, by destination host.',
      labelNames: ['host'],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    this.renderSeconds = new Histogram({
      name: 'hookflow_webhook_render_duration_seconds',
      help: 'Time to load the step and render its URL, headers and body.',
      buckets: RENDER_BUCKETS,
      registers,
    });
    this.recorded = new Counter({
      name: 'hookflow_attempts_recorded_total',
      help: 'Attempt records written, to the database or (when it refused them) to the spool on disk.',
      labelNames: ['to'],
      registers,
    });
    this.runs = new Counter({
      name: 'hookflow_runs_started_total',
      help: 'Flow runs Temporal accepted from this worker (date sweeps, price-drop fan-outs).',
      registers,
    });
    this.transitions = new Counter({
      name: 'hookflow_destination_circuit_transitions_total',
      help: "Destinations' circuits changing state, by the state entered (open, half_open, closed), as this worker saw them.",
      labelNames: ['to'],
      registers,
    });
    const open = () => this.openDestinations();
    new Gauge({
      name: 'hookflow_destinations_open',
      help: 'Destinations whose circuit is open or half-open (shared by every worker: read from the database).',
      registers,
      async collect() {
        // A scrape while the database is away keeps the last figure rather than failing whole.
        const n = await open().catch(() => undefined);
        if (n !== undefined) this.set(n);
      },
    });
    new Gauge({
      name: 'hookflow_attempt_spool_records',
      help: 'Attempt records waiting in the spool on disk for the database to take them.',
      registers,
      collect() {
        this.set(spoolRecords());
      },
    });
  }

  attempt(outcome: string, host: string | undefined, durationMs: number): void {
    this.attempts.inc({ outcome });
    // An attempt that never left (render failure, missing step) has no host and no latency.
    if (host !== undefined) this.attemptSeconds.observe({ host }, durationMs / 1000);
  }

  delivery(outcome: DeliveryEnd): void {
    this.deliveries.inc({ outcome });
  }

  rendered(durationMs: number): void {
    this.renderSeconds.observe(durationMs / 1000);
  }

  runStarted(): void {
    this.runs.inc();
  }

  /** A destination's circuit changed state. */
  destinationTransition(to: CircuitState): void {
    this.transitions.inc({ to });
  }

  /** How the open-destinations gauge is read at each scrape. */
  watchOpenDestinations(count: () => Promise<number>): void {
    this.openDestinations = count;
  }

  attemptRecorded(to: 'database' | 'spool'): void {
    this.recorded.inc({ to });
  }
}

/** Serves a registry at `/metrics` on `host:port` (`0`: a free port); resolves with the address. */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
