import assert from "node:assert/strict";
import { hitRateLimit } from "./ratelimit.ts";

Deno.test("exactly `limit` of many concurrent hits are allowed in one window", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const now = Date.UTC(2026, 10, 23, 10, 0, 10);
    const results = await Promise.all(
      Array.from({ length: 80 }, () => hitRateLimit(kv, ["user", "u1"], 60, 60_000, now)),
    );
    assert.equal(results.filter((r) => r.allowed).length, 60);
    const refused = results.find((r) => !r.allowed)!;
    assert.equal(refused.retryAfterSeconds, 50);
    // Another bucket and the next window start afresh.
    assert.ok((await hitRateLimit(kv, ["user", "u2"], 60, 60_000, now)).allowed);
    assert.ok((await hitRateLimit(kv, ["user", "u1"], 60, 60_000, now + 50_000)).allowed);
  } finally {
    kv.close();
  }
});

Deno.test("hits from another process in between are counted: the stale guess is read again", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const now = Date.UTC(2026, 10, 23, 10, 0, 10);
    assert.equal((await hitRateLimit(kv, ["user", "u3"], 5, 60_000, now)).remaining, 4);
    // Another process (writing to the same store) counts 3 more.
    const key = ["ratelimit", "user", "u3", Date.UTC(2026, 10, 23, 10, 0, 0)];
    await kv.set(key, 4);
    const next = await hitRateLimit(kv, ["user", "u3"], 5, 60_000, now);
    assert.deepEqual([next.allowed, next.remaining], [true, 0]);
    assert.equal((await kv.get(key)).value, 5);
    assert.equal((await hitRateLimit(kv, ["user", "u3"], 5, 60_000, now)).allowed, false);
    // A store where this process never wrote starts from what it holds.
    const other = await Deno.openKv(":memory:");
    try {
      await other.set(key, 5);
      assert.equal((await hitRateLimit(other, ["user", "u3"], 5, 60_000, now)).allowed, false);
      assert.equal((await hitRateLimit(other, ["user", "u4"], 5, 60_000, now)).allowed, true);
    } finally {
      other.close();
    }
  } finally {
    kv.close();
  }
});
