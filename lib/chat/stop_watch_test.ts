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

/** Waits for `done` (checked every 5 ms), failing after 5 s: timings vary with the machine. */
async function waitUntil(done: () => boolean) {
  const until = performance.now() + 5_000;
  while (!done()) {
    if (performance.now() > until) assert.fail("not reached within 5 s");
    await sleep(5);
  }
}

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
  // Ticks every 20 ms: a few within 200 ms even on a busy machine, never one per answer.
  await waitUntil(() => queries.length >= 2);
  assert.ok(queries.every((q) => q.length === 2), "both answers in each query");
  assert.equal(a.signal.aborted || b.signal.aborted, false);

  stopped.add("b");
  await waitUntil(() => b.signal.aborted);
  assert.equal(b.signal.aborted, true, "the answer asked to stop is aborted");
  assert.equal(a.signal.aborted, false);
  assert.equal(watch.size, 1);
  unwatchB();

  unwatchA();
  const after = queries.length;
  await sleep(80);
  assert.equal(queries.length, after, "no polling once every answer has finished");
});
