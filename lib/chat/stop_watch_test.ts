import assert from "node:assert/strict";
import type { Sql } from "../db/mod.ts";
import { StopWatch } from "./stop_watch.ts";

/** A stand-in for postgres.js: records each query's ids, answers with the ids asked to stop. */
function fakeSql(stopped: Set<string>) {
  const queries: string[][] = [];
  const sql = ((first: unknown, ...values: unknown[]) => {
    if (!Array.isArray((first as { raw?: unknown }).raw)) return { ids: first };
    const ids = (values[0] as { ids: string[] }).ids;
    queries.push([...ids]);
    return Promise.resolve(ids.filter((id) => stopped.has(id)).map((id) => ({ id })));
  }) as unknown as Sql;
  return { sql, queries };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("StopWatch: no query without live answers; one query per tick for all of them", async () => {
  const stopped = new Set<string>();
  const { sql, queries } = fakeSql(stopped);
  const watch = new StopWatch(sql, (e) => assert.fail(String(e)), 20);
  await sleep(80);
  assert.equal(queries.length, 0, "idle: no polling");

  const a = new AbortController();
  const b = new AbortController();
  const unwatchA = watch.watch("a", a);
  const unwatchB = watch.watch("b", b);
  await sleep(70);
  assert.ok(queries.length >= 2 && queries.length <= 4, `${queries.length} queries`);
  assert.ok(queries.every((q) => q.length === 2), "both answers in each query");
  assert.equal(a.signal.aborted || b.signal.aborted, false);

  stopped.add("b");
  await sleep(50);
  assert.equal(b.signal.aborted, true, "the answer asked to stop is aborted");
  assert.equal(a.signal.aborted, false);
  assert.equal(watch.size, 1);
  unwatchB();

  unwatchA();
  const after = queries.length;
  await sleep(80);
  assert.equal(queries.length, after, "no polling once every answer has finished");
});
