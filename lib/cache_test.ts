import assert from "node:assert/strict";
import { refreshAhead } from "./cache.ts";

/** A clock the test moves by hand, so the cache's ages do not depend on the machine's load. */
function manualClock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => now += ms };
}
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("refreshAhead: kept for its life, refreshed in the background after half of it", async () => {
  const clock = manualClock();
  let reads = 0;
  let gate: Promise<void> = Promise.resolve();
  const cache = refreshAhead(
    async () => {
      await gate;
      return ++reads;
    },
    200,
    clock.now,
  );
  assert.equal(await cache.get(), 1);
  clock.advance(90);
  assert.equal(await cache.get(), 1);
  assert.equal(reads, 1);
  clock.advance(30);
  // Past half its life: the old value at once, a new read under way.
  let open!: () => void;
  gate = new Promise((r) => open = r);
  assert.equal(await cache.get(), 1);
  assert.equal(await cache.get(), 1);
  open();
  await settle();
  assert.equal(await cache.get(), 2);
  assert.equal(reads, 2);
  // Past its whole life: waited for.
  clock.advance(220);
  assert.equal(await cache.get(), 3);
  cache.invalidate();
  assert.equal(await cache.get(), 4);
});

Deno.test("refreshAhead: a failed background read keeps the value; a failed read is reported", async () => {
  const clock = manualClock();
  let fail = false;
  let reads = 0;
  const cache = refreshAhead(
    () => {
      reads++;
      return fail ? Promise.reject(new Error("down")) : Promise.resolve(reads);
    },
    100,
    clock.now,
  );
  assert.equal(await cache.get(), 1);
  clock.advance(60);
  fail = true;
  assert.equal(await cache.get(), 1);
  await settle();
  assert.equal(await cache.get(), 1);
  clock.advance(60);
  await assert.rejects(cache.get(), /down/);
});
