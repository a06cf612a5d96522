/** `GET /metrics`: Prometheus text format, for the operator's scraper. */
import { Hono } from "hono";
import type { AppContext } from "./_context.ts";

export function metricsRoutes(ctx: AppContext): Hono {
  return new Hono().get("/metrics", async (c) => {
    const body = await ctx.metrics.registry.metrics();
    return c.body(body, 200, { "Content-Type": ctx.metrics.registry.contentType });
  });
}
