import { z } from 'zod';
import { ConfigError } from '../errors';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * The settings of `make start-cluster` (src/scripts/start-cluster.ts) beside those hookflow's own
 * processes read (src/config.ts: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, HOOKFLOW_DATA_DIR, the API
 * port…), with their environment variables and defaults.
 */
const clusterEnvSchema = z.object({
  /** Worker processes the supervisor runs. @default 2 */
  HOOKFLOW_WORKERS: int(1, 64).default(2),
  /** API processes, sharing the API port through node's cluster module. @default 2 */
  HOOKFLOW_API_PROCESSES: int(1, 64).default(2),
  /** Port of the PostgreSQL cluster kept in `<data dir>/postgres`. @default 5433 */
  HOOKFLOW_CLUSTER_PG_PORT: int(1, 65535).default(5433),
  /** History shards of a new Temporal cluster (fixed once the cluster exists). @default 8 */
  HOOKFLOW_TEMPORAL_HISTORY_SHARDS: int(1, 16384).default(8),
  /** Port of the Temporal Web UI. @default 8233 */
  HOOKFLOW_TEMPORAL_UI_PORT: int(1, 65535).default(8233),
});

export interface ClusterConfig {
  workers: number;
  apiProcesses: number;
  postgresPort: number;
  historyShards: number;
  uiPort: number;
}

/** Reads and validates the cluster settings; throws a {@link ConfigError} naming each bad variable. */
export function loadClusterConfig(env: NodeJS.ProcessEnv = process.env): ClusterConfig {
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = clusterEnvSchema.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, problems);
  }
  const e = parsed.data;
  return {
    workers: e.HOOKFLOW_WORKERS,
    apiProcesses: e.HOOKFLOW_API_PROCESSES,
    postgresPort: e.HOOKFLOW_CLUSTER_PG_PORT,
    historyShards: e.HOOKFLOW_TEMPORAL_HISTORY_SHARDS,
    uiPort: e.HOOKFLOW_TEMPORAL_UI_PORT,
  };
}
