import assert from "node:assert/strict";
import { HEALTH_REFRESH_MS, type HealthReport, healthSnapshot } from "./health.ts";

const report = (n: number): HealthReport => ({
  status: "ok",
  serving: true,
  database: { status: "ok", kind: "embedded" },
  kv: { status: "ok" },
  queue: { status: "ok", backlog: n, inFlight: 0, deadLetters: 0 },
  reconciler: { status: "ok", consecutiveFailures: 0 },
  instances: { self: "a", live: [] },
});

Deno.test("/health's checks run at most once a second however often it is asked", async () => {
  let now = 0;
  let checks = 0;
  const current = healthSnapshot(() => Promise.resolve(report(++checks)), () => now);

  const burst = await Promise.all(Array.from({ length: 100 }, () => current()));
  assert.equal(checks, 1);
  assert.ok(burst.every((r) => r.queue.status === "ok" && r.queue.backlog === 1));

  now += HEALTH_REFRESH_MS / 2;
  await Promise.all(Array.from({ length: 100 }, () => current()));
  assert.equal(checks, 1, "half a second later: the same snapshot");

  // Past a second: one refresh for the whole burst, answered meanwhile from the snapshot.
  now += HEALTH_REFRESH_MS;
  await Promise.all(Array.from({ length: 100 }, () => current()));
  assert.equal(checks, 2);
  await new Promise((r) => setTimeout(r, 0));
  const fresh = await current();
  assert.equal(fresh.queue.status === "ok" && fresh.queue.backlog, 2);

  // Nobody asked for a long while: the stale report is never served.
  now += 10 * HEALTH_REFRESH_MS;
  const late = await current();
  assert.equal(checks, 3);
  assert.equal(late.queue.status === "ok" && late.queue.backlog, 3);
});
