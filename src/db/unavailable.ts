/** What pg says, without a code, of a connection the server dropped or it could not open. */
const PG_CONNECTION_LOST =
  /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect)/;

/**
 * Whether an error means the database cannot be reached or written for now (SQLite locked by
 * another connection past the busy timeout; PostgreSQL refusing connections, shutting down,
 * starting up or dropping a connection), so the request may be sent again later, rather than a
 * fault in hookflow.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  // Duck-typed, not `instanceof Error`: a driver's error class may come from another realm.
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code !== 'string') return typeof message === 'string' && PG_CONNECTION_LOST.test(message);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return true;
  // Connection refused on the way to PostgreSQL; its class 57 (operator intervention: shutdown,
  // cannot connect now) and 53300 (too many connections).
  return ['ECONNREFUSED', '57P01', '57P02', '57P03', '53300'].includes(code);
}
