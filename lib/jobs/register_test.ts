/**
 * Handlers and schedules are registered after the queue is built (the wiring builds the services
 * they use in between), and before it starts: a delivery never finds its handler missing.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import type { Database } from "../db/mod.ts";
import { loadConfig } from "../config.ts";
import { memoryLogger } from "../observability/log.ts";
import { createMetrics } from "../observability/metrics.ts";
import { CronScheduler } from "./cron.ts";
import { JobQueue } from "./queue.ts";
import { defineCron, defineHandler, type JobContext, jobType } from "./types.ts";

const job = jobType({ name: "test.registered", schema: z.object({}) });
const handler = defineHandler(job, () => Promise.resolve());

Deno.test("handlers are registered once each, and only before the queue starts", async () => {
  const kv = await Deno.openKv(":memory:");
  const queue = new JobQueue({
    kv,
    db: {} as Database, // never reached: nothing is delivered
    log: memoryLogger("warn"),
    config: await loadConfig({ HURUKURO_ENV: "test" }, { persistSecrets: false }),
    metrics: createMetrics().jobs,
  });
  try {
    queue.register([handler]);
    assert.deepEqual(queue.handlers.map((h) => h.type.name), ["test.registered"]);
    assert.throws(() => queue.register([handler]), /registered twice/);
    queue.start();
    const other = defineHandler(
      jobType({ name: "test.late", schema: z.object({}) }),
      () => Promise.resolve(),
    );
    assert.throws(() => queue.register([other]), /before the queue starts/);
  } finally {
    await queue.stop(100);
    kv.close();
  }
});

Deno.test("schedules registered after the scheduler is built are due like the others", () => {
  const scheduler = new CronScheduler({
    db: {} as Database,
    log: memoryLogger("warn"),
    context: {} as JobContext, // never reached: nothing runs
    defaultTimeZone: "UTC",
  });
  const hourly = defineCron({
    name: "test.hourly",
    schedule: "0 * * * *",
    run: () => Promise.resolve(),
  });
  scheduler.register([hourly]);
  assert.throws(() => scheduler.register([hourly]), /declared twice/);
  assert.deepEqual(scheduler.due(new Date("2026-01-01T10:00:30Z")).map((c) => c.name), [
    "test.hourly",
  ]);
  assert.deepEqual(scheduler.due(new Date("2026-01-01T10:01:00Z")), []);
});
