import assert from "node:assert/strict";
import { refreshAhead } from "./cache.ts";

Deno.test("refreshAhead: kept for its life, refreshed in the background after half of it", async () => {
  let reads = 0;
  let gate: Promise<void> = Promise.resolve();
  const cache = refreshAhead(async () => {
    await gate;
    return ++reads;
  }, 200);
  assert.equal(await cache.get(), 1);
  assert.equal(await cache.get(), 1);
  await new Promise((r) => setTimeout(r, 120));
  // Past half its life: the old value at once, a new read under way.
  let open!: () => void;
  gate = new Promise((r) => open = r);
  assert.equal(await cache.get(), 1);
  assert.equal(await cache.get(), 1);
  open();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(await cache.get(), 2);
  assert.equal(reads, 2);
  // Past its whole life: waited for.
  await new Promise((r) => setTimeout(r, 220));
  assert.equal(await cache.get(), 3);
  cache.invalidate();
  assert.equal(await cache.get(), 4);
});

Deno.test("refreshAhead: a failed background read keeps the value; a failed read is reported", async () => {
  let fail = false;
  let reads = 0;
  const cache = refreshAhead(() => {
    reads++;
    return fail ? Promise.reject(new Error("down")) : Promise.resolve(reads);
  }, 100);
  assert.equal(await cache.get(), 1);
  await new Promise((r) => setTimeout(r, 60));
  fail = true;
  assert.equal(await cache.get(), 1);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(await cache.get(), 1);
  await new Promise((r) => setTimeout(r, 60));
  await assert.rejects(cache.get(), /down/);
});
