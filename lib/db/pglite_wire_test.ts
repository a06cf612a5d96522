import assert from "node:assert/strict";
import { openDatabase } from "./mod.ts";
import { memoryLogger } from "../observability/log.ts";

/** The embedded database in memory: `sql` (requests) and `background.sql`. */
const open = () => openDatabase({ embeddedDir: null, log: memoryLogger("warn") });

Deno.test("embedded: concurrent queries on both connections each get their own rows", async () => {
  const db = await open();
  try {
    const results = await Promise.all(
      Array.from(
        { length: 600 },
        (_, i) =>
          (i % 2 ? db.sql : db.background.sql)`select ${i}::int as i, ${"row " + i}::text as t`,
      ),
    );
    results.forEach((rows, i) => assert.deepEqual([rows[0].i, rows[0].t], [i, `row ${i}`]));
  } finally {
    await db.close();
  }
});

Deno.test("embedded: a transaction runs alone: nothing of another connection runs inside it", async () => {
  const db = await open();
  try {
    await db.sql`create table marks (by text)`;
    let otherDone = false;
    const other = { done: Promise.resolve() };
    await assert.rejects(
      db.sql.begin(async (tx) => {
        await tx`insert into marks values ('tx')`;
        // Issued while the transaction is open: waits for its end, never joins it.
        other.done = db.background.sql`insert into marks values ('other')`.then(() => {
          otherDone = true;
        });
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(otherDone, false, "the other connection waited");
        throw new Error("roll back");
      }),
      /roll back/,
    );
    await other.done;
    const rows = await db.sql`select by from marks`;
    assert.deepEqual(rows.map((r) => r.by), ["other"], "rolled back alone; the other committed");
  } finally {
    await db.close();
  }
});

Deno.test("embedded: a request's query goes before a backlog of background queries", async () => {
  const db = await open();
  try {
    // Connections open and statements prepared (each costs round trips of its own).
    await db.sql`select 1`;
    await db.background.sql`select pg_sleep(0.01)`;
    let backgroundDone = 0;
    const backlog = Array.from(
      { length: 40 },
      () => db.background.sql`select pg_sleep(0.01)`.then(() => void backgroundDone++),
    );
    await new Promise((r) => setTimeout(r, 30));
    await db.sql`select 1`;
    // In arrival order it would come after all 40 (400 ms); first, after the turn running.
    assert.ok(backgroundDone < 15, `answered after ${backgroundDone} of 40 background queries`);
    await Promise.all(backlog);
  } finally {
    await db.close();
  }
});

Deno.test("embedded: background work still progresses while requests keep coming", async () => {
  const db = await open();
  try {
    await db.sql`select pg_sleep(0.002)`;
    await db.background.sql`select 1`;
    let requestsDone = 0;
    const requests = Array.from(
      { length: 100 },
      () => db.sql`select pg_sleep(0.002)`.then(() => void requestsDone++),
    );
    await new Promise((r) => setTimeout(r, 10));
    await db.background.sql`select 1`;
    assert.ok(requestsDone < 60, `background answered only after ${requestsDone} requests`);
    await Promise.all(requests);
  } finally {
    await db.close();
  }
});
