/**
 * `GET /api/v1/status`: what the web frontend needs before signing in: the service's name and
 * version, and which upstreams are served by the sandbox (so the UI can label it).
 */
import { Hono } from "hono";
import type { AppContext } from "../../_context.ts";

export function statusRoutes(ctx: AppContext): Hono {
  return new Hono().get("/status", (c) =>
    c.json({
      service: "hurukuro",
      version: ctx.version,
      environment: ctx.config.env,
      sandbox: ctx.config.sandboxed,
    }));
}
