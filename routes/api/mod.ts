/**
 * `/api`: the versioned REST API behind rate limits and CSRF protection, its OpenAPI 3.1
 * document (generated from the routes' zod schemas) and interactive docs (Swagger UI from npm
 * `swagger-ui-dist`, served from our own origin: no CDN, so the CSP stays strict).
 */
import { Hono } from "hono";
import { tierCache } from "../../lib/accounts/tiers.ts";
import { apiCsrf, type AuthEnv, rateLimit } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { apiRouter } from "./_openapi.ts";
import { apiV1Routes } from "./v1/mod.ts";
import { EMBED_API_PREFIX } from "./v1/bots_embed.ts";

const SWAGGER_DIR = new URL("../../node_modules/swagger-ui-dist/", import.meta.url).pathname;
/** A Map: a path such as `constructor` must not find an inherited property. */
const SWAGGER_ASSETS = new Map<string, string>(Object.entries({
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}));

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hurukuro API</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="swagger"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script></body></html>`;

export function apiRoutes(ctx: AppContext): Hono<AuthEnv> {
  const api = apiRouter();
  const limit = rateLimit(ctx, tierCache(ctx.db.sql));
  // A bot embed's preflights are not questions: its visitors are limited per bot (bots_embed.ts).
  api.use(
    "/api/v1/*",
    (c, next) =>
      c.req.method === "OPTIONS" && c.req.path.startsWith(EMBED_API_PREFIX)
        ? next()
        : limit(c, next),
  );
  api.use("/api/v1/*", apiCsrf(ctx));
  // Full paths here (the router is mounted at the root) so the document names real URLs.
  api.route("/api/v1", apiV1Routes(ctx));
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An access token from /api/v1/auth/login, or an API key (hk_…)",
  });
  api.doc31("/api/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Hurukuro API",
      version: ctx.version,
      description: 'Errors are `{"error":{"code","message","details"?}}` with the HTTP status.',
    },
    servers: [{ url: ctx.config.publicUrl }],
  });
  api.get("/api/docs", (c) => c.html(DOCS_PAGE));
  api.get("/api/docs/assets/:file", async (c) => {
    const file = c.req.param("file");
    const type = SWAGGER_ASSETS.get(file);
    if (!type) return c.notFound();
    const body = await Deno.readFile(SWAGGER_DIR + file);
    return c.body(body, 200, { "Content-Type": type, "Cache-Control": "public, max-age=86400" });
  });
  return api;
}
