import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { withStatementCache } from '../../src/db/statement-cache';

interface Db {
  t: { id: number; name: string };
}

describe('SQLite statements prepared once per SQL text', () => {
  let sqlite: SqliteDatabase.Database;
  let db: Kysely<Db>;
  beforeEach(() => {
    sqlite = new SqliteDatabase(':memory:');
    sqlite.exec('create table t (id integer primary key, name text not null)');
    db = new Kysely<Db>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  });
  afterEach(async () => {
    await db.destroy();
  });

  test('one statement serves every call with its own parameters', async () => {
    for (let i = 1; i <= 3; i++)
      await db
        .insertInto('t')
        .values({ id: i, name: `n${i}` })
        .execute();
    const names = await Promise.all(
      [3, 1, 2].map(
        async (id) => (await db.selectFrom('t').select('name').where('id', '=', id).executeTakeFirst())?.name,
      ),
    );
    expect(names).toEqual(['n3', 'n1', 'n2']);
  });

  test('the same SQL runs again after a stream of it stopped half way, and streams again', async () => {
    for (let i = 1; i <= 3; i++)
      await db
        .insertInto('t')
        .values({ id: i, name: `n${i}` })
        .execute();
    const query = db.selectFrom('t').select(['id', 'name']).where('id', '>', 0).orderBy('id');
    for await (const row of query.stream()) {
      expect(row.id).toBe(1);
      break;
    }
    expect((await query.execute()).map((r) => r.id)).toEqual([1, 2, 3]);
    const streamed: number[] = [];
    for await (const row of query.stream()) streamed.push(row.id);
    expect(streamed).toEqual([1, 2, 3]);
  });

  test('a remembered statement sees a column added after it was prepared', async () => {
    await db.insertInto('t').values({ id: 1, name: 'a' }).execute();
    const read = () => sql<Record<string, unknown>>`select * from t`.execute(db);
    expect((await read()).rows).toEqual([{ id: 1, name: 'a' }]);
    await sql`alter table t add column extra text default 'x'`.execute(db);
    expect((await read()).rows).toEqual([{ id: 1, name: 'a', extra: 'x' }]);
  });
});
