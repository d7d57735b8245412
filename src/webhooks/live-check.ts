import type { Dispatcher } from 'undici';
import { request } from 'undici';
import { classifyError } from './classify';
import { USER_AGENT } from './send';

export interface LiveCheckResult {
  ok: boolean;
  /** Why the URL cannot be used; blocks going live. */
  error?: string;
  /** Worth knowing, but does not block saving (e.g. the endpoint was unreachable just now). */
  warnings: string[];
}

/**
 * The save-time check of a webhook URL: one HEAD request, which performs the TLS handshake
 * (chain and host name validated against Node's CAs plus NODE_EXTRA_CA_CERTS) and asks the
 * endpoint for nothing with side effects. Redirects are not followed: a 3xx is an error.
 */
export async function liveCheckUrl(
  url: string,
  opts: { dispatcher: Dispatcher; timeoutMs: number },
): Promise<LiveCheckResult> {
  try {
    const res = await request(url, {
      method: 'HEAD',
      dispatcher: opts.dispatcher,
      signal: AbortSignal.timeout(opts.timeoutMs),
      headersTimeout: opts.timeoutMs,
      headers: { 'user-agent': USER_AGENT },
    });
    res.body.resume();
    const status = res.statusCode;
    if (status >= 300 && status < 400) {
      const location = res.headers.location;
      const where = Array.isArray(location) ? location[0] : location;
      return {
        ok: false,
        error: where
          ? `the URL redirects to ${where}; use the final URL`
          : `the URL answers HTTP ${status} (a redirect without a Location header); use the final URL`,
        warnings: [],
      };
    }
    const warnings: string[] = [];
    if (status >= 500) {
      warnings.push(
        `the endpoint answered the check with HTTP ${status}; deliveries are retried while it fails`,
      );
    } else if (status === 404 || status === 410) {
      warnings.push(`the endpoint answered the check with HTTP ${status}; make sure the path is right`);
    }
    return { ok: true, warnings };
  } catch (err) {
    const outcome = classifyError(err, opts.timeoutMs);
    if (outcome.class === 'non_retryable') {
      return { ok: false, error: outcome.reason.replace(/^TLS: /, ''), warnings: [] };
    }
    return {
      ok: true,
      warnings: [
        `could not reach the endpoint to check it (${outcome.reason}); saved anyway, deliveries will retry`,
      ],
    };
  }
}
