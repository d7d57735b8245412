// jest globalSetup: one throwaway PostgreSQL cluster for the whole run (each suite creates its own
// databases in it, see ./databases.ts), unless HOOKFLOW_TEST_PG_URL names a server already.
import type { PostgresCluster } from '../../src/cluster/postgres';
import { startPostgres } from '../../src/cluster/postgres';

declare global {
  var hookflowTestPostgres: PostgresCluster | undefined;
}

export default async function setup(): Promise<void> {
  if (process.env.HOOKFLOW_TEST_PG_URL) return;
  const cluster = await startPostgres();
  globalThis.hookflowTestPostgres = cluster;
  // Workers and in-band suites inherit the environment of this process.
  process.env.HOOKFLOW_TEST_PG_URL = cluster.url('postgres');
}
