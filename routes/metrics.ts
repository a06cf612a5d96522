/**
 * `GET /metrics`: Prometheus text format, for the operator's scraper. With METRICS_TOKEN set
 * (required in production) the scraper must send it as `Authorization: Bearer <token>`; the
 * figures (traffic, failures, queue depths) are not for the public.
 */
import { Hono } from "hono";
import { timingSafeEqual } from "../lib/security/tokens.ts";
import type { AppContext } from "./_context.ts";

export function metricsRoutes(ctx: AppContext): Hono {
  return new Hono().get("/metrics", async (c) => {
    const token = ctx.config.metricsToken;
    if (token) {
      const sent = c.req.header("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? "";
      if (!timingSafeEqual(sent, token)) {
        return c.text("Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.\n", 401, {
          "WWW-Authenticate": 'Bearer realm="metrics"',
        });
      }
    }
    const body = await ctx.metrics.registry.metrics();
    return c.body(body, 200, { "Content-Type": ctx.metrics.registry.contentType });
  });
}
