/** `GET /health`: 200 when the database and KV answer, 503 (same body) when one does not. */
import { Hono } from "hono";
import { checkHealth } from "../lib/health.ts";
import type { AppContext } from "./_context.ts";

export function healthRoutes(ctx: AppContext): Hono {
  return new Hono().get("/health", async (c) => {
    const report = { ...await checkHealth(ctx), ...ctx.bots?.health() };
    c.header("Cache-Control", "no-store");
    return c.json(report, report.status === "ok" ? 200 : 503);
  });
}
