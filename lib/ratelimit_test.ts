import assert from "node:assert/strict";
import { createRateLimiter } from "./ratelimit.ts";

/** 10:00:10 UTC: 50 s left in its minute. */
const NOW = Date.UTC(2026, 10, 23, 10, 0, 10);

/** Two instances' shares of a limit, as lib/instances.ts computes them (`live` instances). */
const sharesOf = (live: { n: number }) =>
  [0, 1].map((rank) => (limit: number) =>
    Math.max(1, Math.floor(limit / live.n) + (rank < limit % live.n ? 1 : 0))
  );

Deno.test("exactly `limit` of many concurrent hits are allowed in one window", async () => {
  const limiter = createRateLimiter();
  const results = await Promise.all(
    Array.from({ length: 80 }, () => limiter.hit(["user", "u1"], 60, 60_000, NOW)),
  );
  assert.equal(results.filter((r) => r.allowed).length, 60);
  assert.deepEqual(results.map((r) => r.remaining).slice(0, 3), [59, 58, 57]);
  const refused = results.find((r) => !r.allowed)!;
  assert.equal(refused.retryAfterSeconds, 50);
  // Another bucket and the next window start afresh.
  assert.ok((await limiter.hit(["user", "u2"], 60, 60_000, NOW)).allowed);
  assert.ok((await limiter.hit(["user", "u1"], 60, 60_000, NOW + 50_000)).allowed);
});

Deno.test("two instances behind a round-robin balancer allow the limit in all, not twice it", async () => {
  const live = { n: 2 };
  const [shareA, shareB] = sharesOf(live);
  const a = createRateLimiter({ shareOf: shareA });
  const b = createRateLimiter({ shareOf: shareB });
  const decisions = [];
  for (let i = 0; i < 40; i++) {
    decisions.push(await (i % 2 === 0 ? a : b).hit(["user", "u1"], 20, 60_000, NOW));
  }
  const allowed = decisions.filter((d) => d.allowed).length;
  assert.equal(allowed, 20);
  assert.equal(decisions.findIndex((d) => !d.allowed), 20, "the 21st request is the first refused");
  assert.equal(decisions[0].limit, 20);
  assert.equal(decisions[0].remaining, 18, "the whole system's estimate: 1 of 10 used here");

  // An odd limit: the parts add up to it exactly.
  let odd = 0;
  for (let i = 0; i < 40; i++) {
    if ((await (i % 2 === 0 ? a : b).hit(["user", "odd"], 21, 60_000, NOW)).allowed) odd++;
  }
  assert.equal(odd, 21);

  // b is gone: a takes the whole limit, counting on from what it allowed this minute.
  live.n = 1;
  let more = 0;
  while ((await a.hit(["user", "u1"], 20, 60_000, NOW)).allowed) more++;
  assert.equal(more, 10);
});

Deno.test("counters of ended windows are forgotten", async () => {
  const limiter = createRateLimiter();
  for (let i = 0; i < 1_000; i++) await limiter.hit(["ip", `10.0.${i}`], 5, 60_000, NOW);
  await limiter.hit(["ip", "10.0.1"], 5, 1_000, NOW);
  assert.equal(limiter.size, 1_001);
  // A minute on, the old windows are swept: a bucket starts again from nothing.
  const later = await limiter.hit(["ip", "10.0.1"], 5, 60_000, NOW + 60_000);
  assert.deepEqual([later.allowed, later.remaining], [true, 4]);
  assert.equal(limiter.size, 1);
});
