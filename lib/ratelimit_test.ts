import assert from "node:assert/strict";
import { hitRateLimit } from "./ratelimit.ts";

/** 10:00:10 UTC: 50 s left in its minute, whose window starts at {@link WINDOW_START}. */
const NOW = Date.UTC(2026, 10, 23, 10, 0, 10);
const WINDOW_START = Date.UTC(2026, 10, 23, 10, 0, 0);

/** A test body given a fresh in-memory KV store, closed afterwards. */
const withKv = (body: (kv: Deno.Kv) => Promise<void>) => async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await body(kv);
  } finally {
    kv.close();
  }
};

Deno.test(
  "exactly `limit` of many concurrent hits are allowed in one window",
  withKv(async (kv) => {
    const results = await Promise.all(
      Array.from({ length: 80 }, () => hitRateLimit(kv, ["user", "u1"], 60, 60_000, NOW)),
    );
    assert.equal(results.filter((r) => r.allowed).length, 60);
    const refused = results.find((r) => !r.allowed)!;
    assert.equal(refused.retryAfterSeconds, 50);
    // Another bucket and the next window start afresh.
    assert.ok((await hitRateLimit(kv, ["user", "u2"], 60, 60_000, NOW)).allowed);
    assert.ok((await hitRateLimit(kv, ["user", "u1"], 60, 60_000, NOW + 50_000)).allowed);
  }),
);

Deno.test(
  "hits from another process in between are counted: the stale guess is read again",
  withKv(async (kv) => {
    assert.equal((await hitRateLimit(kv, ["user", "u3"], 5, 60_000, NOW)).remaining, 4);
    // Another process (writing to the same store) counts 3 more.
    const key = ["ratelimit", "user", "u3", WINDOW_START];
    await kv.set(key, 4);
    const next = await hitRateLimit(kv, ["user", "u3"], 5, 60_000, NOW);
    assert.deepEqual([next.allowed, next.remaining], [true, 0]);
    assert.equal((await kv.get(key)).value, 5);
    assert.equal((await hitRateLimit(kv, ["user", "u3"], 5, 60_000, NOW)).allowed, false);
    // A store where this process never wrote starts from what it holds.
    const other = await Deno.openKv(":memory:");
    try {
      await other.set(key, 5);
      assert.equal((await hitRateLimit(other, ["user", "u3"], 5, 60_000, NOW)).allowed, false);
      assert.equal((await hitRateLimit(other, ["user", "u4"], 5, 60_000, NOW)).allowed, true);
    } finally {
      other.close();
    }
  }),
);

Deno.test(
  "far below the limit a hit is answered before it is written, and counted all the same",
  withKv(async (kv) => {
    const key = ["ratelimit", "user", "u5", WINDOW_START];
    assert.equal((await hitRateLimit(kv, ["user", "u5"], 100, 60_000, NOW)).remaining, 99);
    // Answered before KV is written: the decision is there after one microtask.
    let answered = false;
    const fast = hitRateLimit(kv, ["user", "u5"], 100, 60_000, NOW).then((d) => {
      answered = true;
      return d;
    });
    await Promise.resolve();
    assert.equal(answered, true);
    assert.equal((await fast).allowed, true);
    // Written behind it (and its bookkeeping done) a moment later.
    while ((await kv.get(key)).value !== 2) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => setTimeout(r, 5));
    // Then another process counts 76 more.
    await kv.set(key, 78);
    // This process does not know yet: allowed at once on its stale count (2 of 100)...
    const stale = await hitRateLimit(kv, ["user", "u5"], 100, 60_000, NOW);
    assert.deepEqual([stale.allowed, stale.remaining], [true, 97]);
    // ...while it is written, the next hit waits (one hit at a time is answered ahead); the
    // write learnt the other process's count, and near the limit every hit is counted first:
    // exactly 100 in all.
    const results = [];
    for (let i = 0; i < 25; i++) {
      results.push(await hitRateLimit(kv, ["user", "u5"], 100, 60_000, NOW));
    }
    assert.equal(results.filter((r) => r.allowed).length, 100 - 79);
    assert.equal((await kv.get(key)).value, 100);
  }),
);
