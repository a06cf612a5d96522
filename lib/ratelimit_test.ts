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
