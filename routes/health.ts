/**
 * `GET /health`: 200 when the database and KV answer, 503 (same body) when one does not. The
 * body's `status` is also `degraded` when background work is failing (the reconciler), which
 * does not stop this instance from serving. Answered from a snapshot at most two seconds old.
 */
import { Hono } from "hono";
import { checkHealth, healthSnapshot } from "../lib/health.ts";
import type { AppContext } from "./_context.ts";

export function healthRoutes(ctx: AppContext): Hono {
  const current = healthSnapshot(async () => ({
    ...await checkHealth(ctx),
    ...ctx.bots?.health(),
  }));
  return new Hono().get("/health", async (c) => {
    const report = await current();
    c.header("Cache-Control", "no-store");
    return c.json(report, report.serving ? 200 : 503);
  });
}
