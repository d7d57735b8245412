/**
 * The pages' one way to call the API: same-origin fetch with the session cookie, the CSRF token
 * (from the layout's `<meta name="csrf-token">`) on requests that change data, and the API's error
 * body (`{ error: { code, message, details } }`) turned into an {@link ApiError}.
 */
export interface ErrorDetail {
  path: string;
  message: string;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[],
    /** Sent with `two_step_required`: where to set two-step authentication up. */
    readonly setupUrl: string | undefined,
    /** The whole error body, for errors that carry more (a failed save's `checks`). */
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }

  /** The message followed by each detail, as one line. */
  describe(): string {
    const d = this.details.map((x) => `${x.path} ${x.message}`);
    return d.length ? `${this.message}: ${d.join('; ')}` : this.message;
  }
}

export function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? '';
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/**
 * The session was renewed since the page loaded (two-step authentication turned on in another
 * tab): the page's token is stale. Asks for the current one and keeps it in the meta element.
 */
async function refreshCsrfToken(): Promise<boolean> {
  const res = await fetch('/api/auth/me', {
    headers: { accept: 'application/json' },
    credentials: 'same-origin',
  });
  const csrf = res.ok ? ((await res.json()) as { csrf?: unknown }).csrf : undefined;
  if (typeof csrf !== 'string' || csrf === csrfToken()) return false;
  document.querySelector('meta[name="csrf-token"]')?.setAttribute('content', csrf);
  return true;
}

export async function api<T>(method: Method, url: string, body?: unknown): Promise<T> {
  try {
    return await request<T>(method, url, body);
  } catch (err) {
    if (
      err instanceof ApiError &&
      err.code === 'csrf_failed' &&
      (await refreshCsrfToken().catch(() => false))
    )
      return request<T>(method, url, body);
    throw err;
  }
}

async function request<T>(method: Method, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken();
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const e = (data.error ?? {}) as { code?: string; message?: string; details?: ErrorDetail[] };
    throw new ApiError(
      res.status,
      e.code ?? `http_${res.status}`,
      e.message ?? `HTTP ${res.status}`,
      Array.isArray(e.details) ? e.details : [],
      typeof data.setupUrl === 'string' ? data.setupUrl : undefined,
      data,
    );
  }
  return data as T;
}
