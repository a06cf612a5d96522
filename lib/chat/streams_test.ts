import assert from "node:assert/strict";
import { Generation, STREAM_EVENT_NAMES, type StreamEntry, StreamRegistry } from "./streams.ts";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a reader gets what came after its last id, then the live events, in order", () => {
  const g = new Generation("m1", "u1", new AbortController(), 60_000, null);
  g.emit("start", {});
  g.emit("delta", { text: "a" });
  g.emit("delta", { text: "b" });
  const seen: StreamEntry[] = [];
  const detach = g.attach(2, (e) => seen.push(e));
  g.emit("delta", { text: "c" });
  g.emit("done", {});
  g.emit("delta", { text: "after the end" }); // ignored
  detach();
  assert.deepEqual(seen.map((e) => [e.id, e.event]), [[3, "delta"], [4, "delta"], [5, "done"]]);
  assert.ok(g.finished);
  assert.equal(g.entries.length, 5);
});

Deno.test("no reader for the grace period aborts; a reader back in time keeps it going", async () => {
  const kept = new AbortController();
  const g = new Generation("m2", "u1", kept, 80, null);
  let detach = g.attach(0, () => {});
  detach();
  await wait(40);
  detach = g.attach(0, () => {}); // back within the grace period
  await wait(120);
  assert.equal(kept.signal.aborted, false);
  detach();
  await wait(120);
  assert.equal(kept.signal.aborted, true);

  const done = new AbortController();
  const finished = new Generation("m3", "u1", done, 20, null);
  finished.emit("done", {});
  await wait(60);
  assert.equal(done.signal.aborted, false, "a finished answer is never aborted");
});

Deno.test("a finished answer leaves memory once its events are stored; it stays when they are not", async () => {
  const registry = new StreamRegistry();
  const stored = { written: () => Promise.resolve(true), push: () => {} };
  const g = new Generation("m5", "u1", new AbortController(), 60_000, stored as never);
  let finish = () => {};
  registry.add(g, new Promise<void>((resolve) => finish = resolve));
  g.emit("start", {});
  g.emit("done", {});
  await wait(10);
  assert.equal(registry.get("m5"), g, "kept while the answer runs");
  finish();
  await registry.settled(1_000);
  assert.equal(registry.get("m5"), undefined);

  // Events the store did not take: the generation is the only copy, so readers are served from memory.
  const lost = { written: () => Promise.resolve(false), push: () => {} };
  const kept = new Generation("m6", "u1", new AbortController(), 60_000, lost as never);
  registry.add(kept, Promise.resolve());
  kept.emit("start", {});
  kept.emit("done", {});
  await registry.settled(1_000);
  assert.equal(registry.get("m6"), kept);
});

Deno.test("settled waits for the running answers, up to its timeout", async () => {
  const registry = new StreamRegistry();
  assert.equal(await registry.settled(10), true, "nothing running");
  let finish!: () => void;
  const g = new Generation("m9", "u1", new AbortController(), 60_000, null);
  registry.add(g, new Promise<void>((resolve) => finish = resolve));
  assert.equal(await registry.settled(30), false, "still running at the timeout");
  setTimeout(() => finish(), 20);
  assert.equal(await registry.settled(5_000), true, "ended within the timeout");
  g.abort.abort("test over");
});

Deno.test("the stream's event names are the ones answer_events' CHECK lists", async () => {
  const sql = await Deno.readTextFile(
    new URL("../../migrations/0017_answer_events.sql", import.meta.url),
  );
  const listed = sql.match(/check \(event = any \(array\[([^\]]*)\]\)\)/)![1];
  assert.deepEqual(listed.split(",").map((v) => v.trim().replaceAll("'", "")), [
    ...STREAM_EVENT_NAMES,
  ]);
});
