import assert from "node:assert/strict";
import { createRateLimiter, type RateLimiter } from "./ratelimit.ts";

/** 10:00:10 UTC: 50 s left in its minute, whose window starts at {@link WINDOW_START}. */
const NOW = Date.UTC(2026, 10, 23, 10, 0, 10);
const WINDOW_START = Date.UTC(2026, 10, 23, 10, 0, 0);

/** A test body given a fresh in-memory KV store and a limiter on it, closed afterwards. */
const withKv = (body: (kv: Deno.Kv, limiter: RateLimiter) => Promise<void>) => async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await body(kv, createRateLimiter(kv));
  } finally {
    kv.close();
  }
};

Deno.test(
  "exactly `limit` of many concurrent hits are allowed in one window",
  withKv(async (_kv, limiter) => {
    const results = await Promise.all(
      Array.from({ length: 80 }, () => limiter.hit(["user", "u1"], 60, 60_000, NOW)),
    );
    assert.equal(results.filter((r) => r.allowed).length, 60);
    const refused = results.find((r) => !r.allowed)!;
    assert.equal(refused.retryAfterSeconds, 50);
    // Another bucket and the next window start afresh.
    assert.ok((await limiter.hit(["user", "u2"], 60, 60_000, NOW)).allowed);
    assert.ok((await limiter.hit(["user", "u1"], 60, 60_000, NOW + 50_000)).allowed);
  }),
);

Deno.test(
  "hits from another process in between are counted",
  withKv(async (kv, limiter) => {
    assert.equal((await limiter.hit(["user", "u3"], 5, 60_000, NOW)).remaining, 4);
    // Another process (writing to the same store) counts 3 more.
    const key = ["ratelimit", "user", "u3", WINDOW_START];
    await kv.set(key, 4);
    const next = await limiter.hit(["user", "u3"], 5, 60_000, NOW);
    assert.deepEqual([next.allowed, next.remaining], [true, 0]);
    assert.equal((await kv.get(key)).value, 5);
    assert.equal((await limiter.hit(["user", "u3"], 5, 60_000, NOW)).allowed, false);
    // A store where this process never wrote starts from what it holds.
    const other = await Deno.openKv(":memory:");
    try {
      await other.set(key, 5);
      assert.equal(
        (await createRateLimiter(other).hit(["user", "u3"], 5, 60_000, NOW)).allowed,
        false,
      );
      assert.equal(
        (await createRateLimiter(other).hit(["user", "u4"], 5, 60_000, NOW)).allowed,
        true,
      );
    } finally {
      other.close();
    }
  }),
);

Deno.test(
  "a hit written by another process between the read and the write is not overwritten",
  withKv(async (kv) => {
    const key = ["ratelimit", "user", "u5", WINDOW_START];
    await kv.set(key, 3);
    // The first read is followed at once by another process's hit.
    let raced = false;
    const racing = new Proxy(kv, {
      get(target, name) {
        if (name !== "get") return Reflect.get(target, name).bind(target);
        return async (k: Deno.KvKey) => {
          const entry = await target.get(k);
          if (!raced) {
            raced = true;
            await target.set(k, 4);
          }
          return entry;
        };
      },
    });
    const decision = await createRateLimiter(racing).hit(["user", "u5"], 10, 60_000, NOW);
    assert.deepEqual([decision.allowed, decision.remaining], [true, 5]);
    assert.equal((await kv.get(key)).value, 5);
  }),
);
