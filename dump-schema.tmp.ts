import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { migrationProvider } from './src/db/migrations';
async function main() {
  const sqlite = new SqliteDatabase(':memory:');
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
  const r = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (r.error) throw r.error;
  const rows = sqlite.prepare("select type, name, tbl_name, sql from sqlite_master where name not like 'kysely_%' order by type, name").all();
  process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
}
void main();
