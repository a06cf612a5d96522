/** The vocabulary of lib/bots/model.ts is the one the SQL checks (migrations/0012_bots.sql). */
import assert from "node:assert/strict";
import {
  DELIVERY_STATUSES,
  describeStatus,
  type Source,
  SOURCE_KINDS,
  SOURCE_STATUSES,
  WEBHOOK_EVENTS,
} from "./model.ts";

const SQL = await Deno.readTextFile(new URL("../../migrations/0012_bots.sql", import.meta.url));

/** The values an SQL `check (column in (...))` lists. */
function checked(column: string): string[] {
  const m = SQL.match(new RegExp(`check \\(${column} in \\(([^)]*)\\)\\)`));
  assert.ok(m, `no check on ${column}`);
  return [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]);
}

Deno.test("bots vocabulary: each list equals the SQL check that guards it", () => {
  assert.deepEqual(checked("kind"), [...SOURCE_KINDS]);
  assert.deepEqual(checked("status"), [...SOURCE_STATUSES]);
  assert.deepEqual(checked("event"), [...WEBHOOK_EVENTS]);
  const deliveries = SQL.slice(SQL.indexOf("create table bot_webhook_deliveries"));
  const m = deliveries.match(
    /status text not null default 'pending' check \(status in \(([^)]*)\)\)/,
  );
  assert.deepEqual([...m![1].matchAll(/'([^']+)'/g)].map((x) => x[1]), [...DELIVERY_STATUSES]);
  const events = SQL.match(/events <@ array\[([^\]]*)\]/);
  assert.deepEqual([...events![1].matchAll(/'([^']+)'/g)].map((x) => x[1]), [...WEBHOOK_EVENTS]);
});

Deno.test("a source's state in words: why it waits, how far it got, why it failed", () => {
  const base = { kind: "file", chunksTotal: null, chunksDone: 0, error: null } as unknown as Source;
  assert.equal(describeStatus({ ...base, status: "queued" }, 3), "waiting: 3 sources ahead");
  assert.equal(describeStatus({ ...base, status: "queued" }, 0), "waiting: next in line");
  assert.equal(describeStatus({ ...base, status: "processing" }), "processing: reading the file");
  assert.equal(
    describeStatus({ ...base, status: "processing", chunksTotal: 40, chunksDone: 12 }),
    "processing 12/40 chunks",
  );
  assert.equal(
    describeStatus({ ...base, status: "failed", error: "the PDF could not be read" }),
    "failed: the PDF could not be read",
  );
});
