/**
 * A handler steering its retries with JobFailure: an upstream's Retry-After lengthens the wait,
 * a permanent refusal goes straight to the dead letters. Its own queue on a fresh database.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { withDatabase } from "../../tests/harness.ts";
import { loadConfig } from "../config.ts";
import { memoryLogger } from "../observability/log.ts";
import { createMetrics } from "../observability/metrics.ts";
import { JobQueue } from "./queue.ts";
import { defineHandler, JobFailure, jobType, retryDelayMs } from "./types.ts";

Deno.test("retryDelayMs: the policy's backoff, or the longer wait an upstream asked for", () => {
  const policy = { maxAttempts: 5, backoffMs: [100, 1_000] };
  assert.equal(retryDelayMs(policy, 1), 100);
  assert.equal(retryDelayMs(policy, 4), 1_000, "the last step repeats");
  assert.equal(retryDelayMs(policy, 1, 5_000), 5_000);
  assert.equal(retryDelayMs(policy, 2, 10), 1_000, "never shorter than the policy");
  assert.equal(retryDelayMs(policy, 1, 1e12), 24 * 3600 * 1000, "bounded");
});

Deno.test("JobFailure: retryAfterMs delays the next attempt; retryable:false dead-letters at once", async () => {
  await withDatabase(async (db) => {
    const kv = await Deno.openKv(":memory:");
    const runs: { key: string; attempt: number; at: number }[] = [];
    const type = jobType({
      name: "test.steered",
      schema: z.object({ key: z.string() }),
      retry: { maxAttempts: 5, backoffMs: [20] },
    });
    const queue = new JobQueue({
      kv,
      db,
      log: memoryLogger("warn"),
      config: await loadConfig({ HURUKURO_ENV: "test" }, { persistSecrets: false }),
      metrics: createMetrics().jobs,
      handlers: [
        defineHandler(type, ({ key }, _ctx, meta) => {
          runs.push({ key, attempt: meta.attempt, at: performance.now() });
          if (key === "later" && meta.attempt === 1) {
            throw new JobFailure("rate limited", { retryAfterMs: 700 });
          }
          if (key === "never") throw new JobFailure("refused", { retryable: false });
          return Promise.resolve();
        }),
      ],
    });
    queue.start();
    try {
      await queue.enqueue(type, { key: "later" });
      await queue.enqueue(type, { key: "never" });
      const until = Date.now() + 10_000;
      while (runs.filter((r) => r.key === "later").length < 2 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const later = runs.filter((r) => r.key === "later");
      assert.equal(later.length, 2);
      assert.ok(later[1].at - later[0].at >= 690, `waited ${later[1].at - later[0].at} ms`);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(runs.filter((r) => r.key === "never").length, 1, "no retry of a refusal");
      const [dead] = await db.sql`select attempts, last_error from job_failures
                                  where job = 'test.steered'`;
      assert.equal(dead.attempts, 1);
      assert.equal(dead.last_error, "refused");
    } finally {
      await queue.stop(1_000);
      kv.close();
    }
  });
});
