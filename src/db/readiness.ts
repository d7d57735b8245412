import { Migrator } from 'kysely';
import type { Db } from './index';
import { migrationProvider } from './migrations';

/**
 * Names of the migrations this build knows that the database has not applied. Another process
 * (an older API still running beside a newer one) may have opened the database before them.
 */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const migrations = await new Migrator({ db, provider: migrationProvider }).getMigrations();
  return migrations.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
