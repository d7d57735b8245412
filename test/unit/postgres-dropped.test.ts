import { sql } from 'kysely';
import { isDatabaseUnavailable } from '../../src/db/unavailable';
import { openTestDatabase } from '../support/databases';

/**
 * PostgreSQL going away while hookflow holds a connection between two queries (seen in
 * `make chaos --cluster`, postgres-stop: the API process died on an unhandled 'error' event).
 */
test('a held connection the server terminates fails its next query, and the process carries on', async () => {
  const db = await openTestDatabase('postgres', 'dropped');
  const admin = await openTestDatabase('postgres', 'dropped-admin');
  let failure: unknown;
  await db
    .connection()
    .execute(async (conn) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn);
      await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(admin);
      // The client hears of it between queries: no listener of hookflow's must be missing then.
      await new Promise((r) => setTimeout(r, 200));
      await sql`select 1`.execute(conn);
    })
    .catch((err: unknown) => (failure = err));
  // The API answers it 503 database_unavailable (src/api/middleware.ts), not 500.
  expect(isDatabaseUnavailable(failure)).toBe(true);
  const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
  expect(rows).toEqual([{ one: 1 }]);
  await db.destroy();
  await admin.destroy();
});
