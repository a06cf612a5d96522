/**
 * `GET /api/v1/status`: what the web frontend needs before signing in: the service's name and
 * version, and which upstreams are served by the sandbox (so the UI can label it).
 */
import { createRoute } from "@hono/zod-openapi";
import type { AppContext } from "../../_context.ts";
import { apiRouter, json, z } from "../_openapi.ts";

const Status = z.object({
  service: z.literal("hurukuro"),
  version: z.string(),
  environment: z.enum(["development", "test", "production"]),
  sandbox: z.array(z.string()).openapi({
    description: "Upstreams answered by the built-in sandbox (never in production)",
  }),
}).openapi("Status");

export function statusRoutes(ctx: AppContext) {
  return apiRouter().openapi(
    createRoute({
      method: "get",
      path: "/status",
      tags: ["service"],
      summary: "Service status for clients",
      responses: { 200: json(Status, "The service") },
    }),
    (c) =>
      c.json({
        service: "hurukuro" as const,
        version: ctx.version,
        environment: ctx.config.env,
        sandbox: ctx.config.sandboxed,
      }, 200),
  );
}
