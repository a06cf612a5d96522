import assert from "node:assert/strict";
import postgres from "postgres";
import { openDatabase } from "./mod.ts";
import { startEmbeddedPostgres } from "./embedded.ts";
import { PgliteWire } from "./pglite_wire.ts";
import { memoryLogger } from "../observability/log.ts";

/** The embedded database in memory, reached through several in-process connections. */
const open = () => openDatabase({ embeddedDir: null, log: memoryLogger("warn") });

Deno.test("embedded: concurrent queries spread over the connections each get their own rows", async () => {
  const db = await open();
  try {
    const results = await Promise.all(
      Array.from(
        { length: 600 },
        (_, i) => db.sql`select ${i}::int as i, ${"row " + i}::text as t`,
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
        // Issued on another connection while the transaction is open: waits for its end, never
        // joins it.
        other.done = db.sql`insert into marks values ('other')`.then(() => {
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

Deno.test("embedded: a query written in pieces runs whole, while other connections' queries run between the pieces", async () => {
  const embedded = await startEmbeddedPostgres(null);
  const wire = new PgliteWire(embedded.pg);
  // Each write arrives in two halves, a timer turn apart (in order): PGlite must never see half
  // a message, nor another connection's queries be held up by the half that waits.
  const split = () => {
    const socket = wire.connect();
    const write = socket.write.bind(socket);
    let writing = Promise.resolve();
    socket.write = (chunk: Uint8Array | string, callback?: (error?: Error | null) => void) => {
      const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
      const half = Math.floor(bytes.length / 2);
      writing = writing.then(async () => {
        write(bytes.subarray(0, half));
        await new Promise((resolve) => setTimeout(resolve, 1));
        write(bytes.subarray(half), callback);
      });
      return true;
    };
    return socket;
  };
  const options = { user: "postgres", database: "postgres", onnotice: () => {} };
  const pieces = postgres({ ...options, ...{ socket: split }, max: 1 });
  const whole = postgres({ ...options, ...{ socket: () => wire.connect() }, max: 1 });
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const results = await Promise.race([
      Promise.all(
        Array.from(
          { length: 100 },
          (_, i) => (i % 2 ? pieces : whole)`select ${i}::int as i, ${"row " + i}::text as t`,
        ),
      ),
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error("the queries were not all answered")), 10_000)
      ),
    ]).finally(() => clearTimeout(timer));
    results.forEach((rows, i) => assert.deepEqual([rows[0].i, rows[0].t], [i, `row ${i}`]));
  } finally {
    await Promise.all([pieces.end({ timeout: 1 }), whole.end({ timeout: 1 })]);
    wire.close();
    await embedded.stop();
  }
});
