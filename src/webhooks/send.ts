import type { Dispatcher } from 'undici';
import { Agent, buildConnector, request } from 'undici';
import type { OutboundPolicy, Resolver } from './outbound';
import { guardConnector, safeLookup } from './outbound';
import type { AttemptOutcome } from './classify';
import { classifyError, classifyResponse } from './classify';
import { VERSION } from '../version';
import { redactSecrets } from './redact';
import { signingHeaders } from './signing';

export const USER_AGENT = `hookflow/${VERSION}`;
/** Largest response head (status line and headers) read; beyond it the attempt ends unread. */
export const MAX_RESPONSE_HEADER_BYTES = 16 * 1024;
/** Longest response excerpt kept on an attempt record. */
export const EXCERPT_BYTES = 2048;

export interface WebhookRequest {
  url: string;
  /** User headers, already decrypted; reserved names were refused at save. */
  headers: Record<string, string>;
  body: string;
  idempotencyKey: string;
  /**
   * `whsec_…` secrets to sign with (Standard Webhooks), current first; none: unsigned. The
   * idempotency key is the `webhook-id`, and the timestamp is taken as this attempt starts.
   */
  signingSecrets?: readonly string[];
}

export interface SendOptions {
  dispatcher: Dispatcher;
  timeoutMs: number;
  maxResponseBytes: number;
  retryAfterMaxMs: number;
  /** Cancels the attempt, e.g. the activity's cancellation signal. */
  signal?: AbortSignal;
  /** Header values to redact from the response before the excerpt is cut (an echo may straddle the cut). */
  redact?: readonly string[];
}

export interface SendResult extends AttemptOutcome {
  durationMs: number;
  /** At most {@link EXCERPT_BYTES} of the response body, decoded as UTF-8. */
  excerpt?: string;
}

/**
 * One shared connection pool for every delivery of a worker. Redirects are never followed, and
 * every connection goes through the outbound policy (see outbound.ts).
 */
export function createDispatcher(opts: {
  connectTimeoutMs: number;
  policy: OutboundPolicy;
  keepAlive?: boolean;
  /** Name resolution; the system resolver unless a test gives its own. */
  resolver?: Resolver;
}): Agent {
  const connect = guardConnector(
    buildConnector({ timeout: opts.connectTimeoutMs, lookup: safeLookup(opts.policy, opts.resolver) }),
    opts.policy,
  );
  return new Agent({
    connect,
    keepAliveTimeout: 10_000,
    connections: 64,
    maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
    // pipelining 0 turns keep-alive off: every request opens (and validates) a new connection.
    ...(opts.keepAlive === false ? { pipelining: 0 } : {}),
  });
}

async function readBounded(body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size + buf.length >= max) {
      chunks.push(buf.subarray(0, max - size));
      size = max;
      break;
    }
    chunks.push(buf);
    size += buf.length;
  }
  // Leaving the loop early stops reading; the rest of a large response is discarded.
  if (size >= max) body.destroy();
  return Buffer.concat(chunks);
}

/** Sends one attempt and classifies it. Every ending is an outcome; only cancellation throws. */
export async function sendWebhook(req: WebhookRequest, opts: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  try {
    const res = await request(req.url, {
      method: 'POST',
      dispatcher: opts.dispatcher,
      signal,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      headers: {
        ...req.headers,
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'idempotency-key': req.idempotencyKey,
        ...(req.signingSecrets?.length
          ? signingHeaders(req.signingSecrets, req.idempotencyKey, Math.floor(Date.now() / 1000), req.body)
          : {}),
      },
      body: req.body,
    });
    const raw = await readBounded(res.body, opts.maxResponseBytes);
    const header = (name: string): string | undefined => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const outcome = classifyResponse(
      { status: res.statusCode, location: header('location'), retryAfter: header('retry-after') },
      Date.now(),
      opts.retryAfterMaxMs,
    );
    return {
      ...outcome,
      durationMs: Math.round(performance.now() - started),
      excerpt: Buffer.from(redactSecrets(raw.toString('utf8'), opts.redact ?? []), 'utf8')
        .subarray(0, EXCERPT_BYTES)
        .toString('utf8'),
    };
  } catch (err) {
    // A cancelled activity is not an outcome of the endpoint: let the caller see the cancellation.
    if (opts.signal?.aborted) throw opts.signal.reason;
    const outcome = classifyError(err, opts.timeoutMs);
    return { ...outcome, durationMs: Math.round(performance.now() - started) };
  }
}
