import assert from "node:assert/strict";
import { Generation, readBuffered, type StreamEntry, StreamRegistry } from "./streams.ts";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a reader gets what came after its last id, then the live events, in order", () => {
  const g = new Generation("m1", "u1", new AbortController(), 60_000, null, () => {});
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
  const g = new Generation("m2", "u1", kept, 80, null, () => {});
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
  const finished = new Generation("m3", "u1", done, 20, null, () => {});
  finished.emit("done", {});
  await wait(60);
  assert.equal(done.signal.aborted, false, "a finished answer is never aborted");
});

Deno.test("events are buffered in KV, one key each, and read back after an id", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const g = new Generation("m4", "u1", new AbortController(), 60_000, kv, (e) => {
      throw e;
    });
    g.emit("start", { messageId: "m4" });
    for (let i = 0; i < 250; i++) g.emit("delta", { text: `t${i} ` });
    g.emit("usage", { cost: 3 });
    g.emit("done", {});
    await g.flushed();
    const all = await readBuffered(kv, "m4", 0);
    assert.equal(all.length, 253);
    assert.deepEqual(all.map((e) => e.id), all.map((_, i) => i + 1));
    const rest = await readBuffered(kv, "m4", 200);
    assert.equal(rest[0].id, 201);
    assert.equal(rest.at(-1)!.event, "done");
    assert.deepEqual(await readBuffered(kv, "other", 0), []);
  } finally {
    kv.close();
  }
});

Deno.test("a finished answer leaves memory once its events are in KV; it stays when they are not", async () => {
  const kv = await Deno.openKv(":memory:");
  const registry = new StreamRegistry();
  try {
    const g = new Generation("m5", "u1", new AbortController(), 60_000, kv, () => {});
    let finish = () => {};
    registry.add(g, new Promise<void>((resolve) => finish = resolve));
    g.emit("start", {});
    g.emit("delta", { text: "a" });
    g.emit("done", {});
    await wait(10);
    assert.equal(registry.get("m5"), g, "kept while the answer runs");
    finish();
    await g.flushed();
    await wait(0);
    assert.equal(registry.get("m5"), undefined);
    assert.deepEqual((await readBuffered(kv, "m5", 1)).map((e) => e.event), ["delta", "done"]);

    // Events KV did not take: the generation is the only copy, so readers are served from memory.
    const errors: unknown[] = [];
    const broken = await Deno.openKv(":memory:");
    broken.close();
    const lost = new Generation("m6", "u1", new AbortController(), 60_000, broken, (e) => {
      errors.push(e);
    });
    registry.add(lost, Promise.resolve());
    lost.emit("start", {});
    lost.emit("done", {});
    assert.equal(await lost.flushed(), false);
    await wait(0);
    assert.equal(registry.get("m6"), lost);
    assert.equal(errors.length, 1);
  } finally {
    kv.close();
  }
});

Deno.test("settled waits for the running answers, up to its timeout", async () => {
  const registry = new StreamRegistry();
  assert.equal(await registry.settled(10), true, "nothing running");
  let finish!: () => void;
  const g = new Generation("m9", "u1", new AbortController(), 60_000, null, () => {});
  registry.add(g, new Promise<void>((resolve) => finish = resolve));
  assert.equal(await registry.settled(30), false, "still running at the timeout");
  setTimeout(() => finish(), 20);
  assert.equal(await registry.settled(5_000), true, "ended within the timeout");
  g.abort.abort("test over");
});
