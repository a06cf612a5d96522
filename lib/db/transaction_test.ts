import assert from "node:assert/strict";
import { freshDatabase } from "../../tests/harness.ts";
import type { Sql } from "./mod.ts";

/** `true` when statements run in their own transactions (none was left open on the
 * connection): two statements in a row get two transaction ids. */
async function autocommit(sql: Sql): Promise<boolean> {
  const xid = async () => (await sql`select pg_current_xact_id()::text as x`)[0].x as string;
  return await xid() !== await xid();
}

Deno.test("BEGIN that fills a connection's pipeline still reserves it: nothing runs inside a leaked transaction", async () => {
  const { db, close } = await freshDatabase();
  const { sql } = db;
  try {
    await sql`create table tx_probe (n integer)`;
    // postgres.js pipelines up to 100 queries per connection; a BEGIN written as the one that
    // fills the pipeline is what the driver's own begin gets wrong (the embedded database has a
    // single connection). Its symptom: an uncaught TypeError, and BEGIN left open on the server.
    for (const inFlight of [98, 99, 100, 101, 102]) {
      const fillers = Array.from({ length: inFlight }, () => sql`select 1`.execute());
      const tx = sql.begin(async (t) => {
        await t`insert into tx_probe values (${inFlight})`;
      });
      await Promise.all([...fillers, tx]);
      assert.equal(await autocommit(sql), true, `${inFlight} in flight`);
    }
    assert.equal((await sql`select count(*)::int as n from tx_probe`)[0].n, 5);
  } finally {
    await close();
  }
});

Deno.test("transactions commit, roll back on error, nest savepoints and keep their options", async () => {
  const { db, close } = await freshDatabase();
  const { sql } = db;
  try {
    await sql`create table tx_items (n integer primary key)`;
    // 50 concurrent transactions, each committing its row.
    await Promise.all(
      Array.from({ length: 50 }, (_, n) => sql.begin((t) => t`insert into tx_items values (${n})`)),
    );
    assert.equal((await sql`select count(*)::int as n from tx_items`)[0].n, 50);

    await assert.rejects(
      sql.begin(async (t) => {
        await t`insert into tx_items values (100)`;
        throw new Error("changed my mind");
      }),
      /changed my mind/,
    );
    // A callback returning an array of queries runs them all.
    const [a, b] = await sql.begin((t) => [t`select 1 as x`, t`select 2 as x`]);
    assert.deepEqual([a[0].x, b[0].x], [1, 2]);

    await sql.begin(async (t) => {
      await t`insert into tx_items values (200)`;
      await assert.rejects(
        t.savepoint(async (s) => {
          await s`insert into tx_items values (201)`;
          throw new Error("inner");
        }),
        /inner/,
      );
    });
    const rows = await sql`select n from tx_items where n >= 100 order by n`;
    assert.deepEqual(rows.map((r) => r.n), [200]);

    const [{ level }] = await sql.begin(
      "isolation level serializable",
      (t) => t`select current_setting('transaction_isolation') as level`,
    );
    assert.equal(level, "serializable");
    assert.equal(await autocommit(sql), true);
  } finally {
    await close();
  }
});

Deno.test("a failed statement nobody awaited makes the transaction fail, never a silent rollback", async () => {
  const { db, close } = await freshDatabase();
  const { sql } = db;
  try {
    await sql`create table tx_once (n integer primary key)`;
    await sql`insert into tx_once values (1)`;
    await assert.rejects(
      sql.begin(async (t) => {
        t`insert into tx_once values (1)`.catch(() => {}); // duplicate key, not awaited
        await new Promise((r) => setTimeout(r, 50));
      }),
    );
    assert.equal((await sql`select count(*)::int as n from tx_once`)[0].n, 1);
    assert.equal(await autocommit(sql), true);
  } finally {
    await close();
  }
});
