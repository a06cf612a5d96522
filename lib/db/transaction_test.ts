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
  await using fresh = await freshDatabase();
  const { sql } = fresh.db;
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
});

Deno.test("transactions commit, roll back on error, nest savepoints and keep their options", async () => {
  await using fresh = await freshDatabase();
  const { sql } = fresh.db;
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

  // BEGIN refused (options it does not know) leaves nothing held: more refusals than the
  // pool has connections, and a transaction still gets one.
  for (let i = 0; i < 6; i++) {
    await assert.rejects(sql.begin("isolation level nonsense", () => {}), /syntax|isolation/);
  }
  const [{ level }] = await sql.begin(
    "isolation level serializable",
    (t) => t`select current_setting('transaction_isolation') as level`,
  );
  assert.equal(level, "serializable");
  assert.equal(await autocommit(sql), true);
});

Deno.test("a failed statement nobody awaited makes the transaction fail, never a silent rollback", async () => {
  await using fresh = await freshDatabase();
  const { sql } = fresh.db;
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
});

const onServer = Boolean(Deno.env.get("DATABASE_URL"));

/**
 * A test on a fresh database with an empty table `kept (n integer)`, that only runs on the
 * PostgreSQL server: the embedded database has no server to close a connection or end an idle
 * session. Whatever the test did, no transaction may be left open after it.
 */
function serverOnlyTest(name: string, fn: (sql: Sql) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !onServer,
    async fn() {
      await using fresh = await freshDatabase();
      const { sql } = fresh.db;
      await sql`create table kept (n integer)`;
      await fn(sql);
      assert.equal(await autocommit(sql), true, "no transaction left open");
    },
  });
}

/** The values in the table `kept`. */
const kept = async (sql: Sql) => (await sql`select n from kept`).map((r) => r.n);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How `promise` settled within `ms`: its error's message, "ok", or "still pending". */
async function outcomeWithin(promise: Promise<unknown>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise.then(() => "ok", (e) => String((e as Error).message)),
      new Promise<string>((r) => timer = setTimeout(() => r("still pending"), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

serverOnlyTest(
  "a transaction whose connection the server closes while it waits fails at once; " +
    "nothing of it runs outside it, and the pool goes on",
  async (sql) => {
    const tx = sql.begin(async (t) => {
      const [{ pid }] = await t`insert into kept values (1) returning pg_backend_pid() as pid`;
      // What idle_in_transaction_session_timeout, a restart or a failover does to it.
      await sql`select pg_terminate_backend(${pid})`;
      await sleep(200);
      // Other callers' work meanwhile reopens the pool's connections, that one included.
      await Promise.all(Array.from({ length: 12 }, () => sql`select pg_sleep(0.01)`));
      await t`insert into kept values (2)`;
    });
    assert.match(await outcomeWithin(tx, 5_000), /connection/i);
    assert.deepEqual(await kept(sql), [], "nothing kept");
    assert.equal(
      await outcomeWithin(Promise.all(Array.from({ length: 20 }, () => sql`select 1`)), 5_000),
      "ok",
    );
    await sql.begin((t) => t`insert into kept values (3)`);
    assert.deepEqual(await kept(sql), [3]);
  },
);

serverOnlyTest(
  "a transaction left idle past idle_in_transaction_session_timeout fails at once, " +
    "keeping nothing",
  async (sql) => {
    let refused: unknown = null;
    const tx = sql.begin(async (t) => {
      await t`set local idle_in_transaction_session_timeout = 200`;
      await t`insert into kept values (1)`;
      await sleep(600); // held up by something else than the database
      await t`insert into kept values (2)`.catch((e) => {
        refused = e;
        throw e;
      });
    });
    const started = performance.now();
    assert.match(await outcomeWithin(tx, 5_000), /connection/i);
    assert.ok(performance.now() - started < 550, "failed when the server ended it");
    for (let i = 0; i < 50 && !refused; i++) await sleep(20);
    assert.ok(refused instanceof Error, "the statement after it was refused");
    assert.deepEqual(await kept(sql), []);
  },
);

serverOnlyTest(
  "a transaction whose connection is closed during a statement fails with that error, " +
    "without waiting for a rollback that cannot come",
  async (sql) => {
    const tx = sql.begin(async (t) => {
      await t`insert into kept values (1)`;
      const [{ pid }] = await t`select pg_backend_pid() as pid`;
      const slow = t`select pg_sleep(30)`.execute();
      slow.catch(() => {}); // it fails before it is awaited
      await sleep(100);
      await sql`select pg_terminate_backend(${pid})`;
      await slow;
    });
    const outcome = await outcomeWithin(tx, 5_000);
    assert.ok(!["ok", "still pending"].includes(outcome), outcome);
    // Every query settles (postgres.js hands the killed session's FATAL to the first query
    // of the reopened connection, a driver matter of its own), and the pool answers.
    const after = Promise.allSettled(Array.from({ length: 20 }, () => sql`select 1`));
    assert.equal(await outcomeWithin(after, 5_000), "ok");
    assert.deepEqual(await kept(sql), []);
  },
);
