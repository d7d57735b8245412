/**
 * Whether an error means the database cannot be reached or written for now (SQLite locked by
 * another connection past the busy timeout; PostgreSQL refusing connections, shutting down or
 * starting up), so the request may be sent again later, rather than a fault in hookflow.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return true;
  // Connection refused on the way to PostgreSQL; its class 57 (operator intervention:
  // shutdown, cannot connect now) and 53300 (too many connections).
  return ['ECONNREFUSED', '57P01', '57P02', '57P03', '53300'].includes(code);
}
