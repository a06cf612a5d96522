/**
 * The URL map: every route module is mounted here, in one place, behind the shared middleware
 * (request id, access log + metrics, security headers, CORS for `/api`, body limit) and the one
 * error handler that turns {@link AppError} into the JSON envelope or an HTML page (_errors.tsx).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { routePath } from "hono/route";
import { secureHeaders } from "hono/secure-headers";
import { AppError } from "../lib/errors.ts";
import { isUnstorableTextError, UNSTORABLE_TEXT, unstorableField } from "../lib/text.ts";
import type { AppContext } from "./_context.ts";
import { codeForStatus, errorResponse } from "./_errors.tsx";
import { apiRoutes } from "./api/mod.ts";
import { authenticate, type AuthEnv, originCheck } from "./_auth.ts";
import { accountRoutes, topUpFormTargets } from "./account.tsx";
import { loginRoutes } from "./login.tsx";
import { chatRoutes as chatPageRoutes } from "./chat.tsx";
import { adminRoutes } from "./admin/mod.tsx";
import { paynowRoutes } from "./paynow.tsx";
import { healthRoutes } from "./health.ts";
import { homeRoutes } from "./index.tsx";
import { metricsRoutes } from "./metrics.ts";
import { whatsappRoutes } from "./whatsapp.ts";
import { telegramRoutes } from "./telegram.ts";
import { EMBED_API_PREFIX } from "./api/v1/bots_embed.ts";
import { EMBED_SCRIPT_PATH, embedRoutes, embedScriptHeaders } from "./embed.ts";
import { botPageRoutes } from "./bots.tsx";
import { isUpload, UPLOAD_BODY_LIMIT } from "./_form.ts";
import { reportRoutes } from "./report.tsx";
import { serveStaticFromMemory } from "./_static.ts";

const STATIC_ROOT = new URL("../", import.meta.url).pathname;

/** The text rule (lib/text.ts) for every URL: its path and each query parameter. */
function checkUrlText(c: Context): void {
  const url = new URL(c.req.url);
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw new AppError("bad_request", "The URL is not valid percent-encoding.");
  }
  const bad = unstorableField([["path", path], ...url.searchParams]);
  if (bad) throw new AppError("validation_failed", `${bad}: ${UNSTORABLE_TEXT}.`, { field: bad });
}

/**
 * A request whose client went away while its body was being read (a phone losing signal): the
 * runtime's I/O errors, not a fault of ours.
 */
function isClientGone(error: Error): boolean {
  return error instanceof Deno.errors.Http || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.UnexpectedEof ||
    // A reset connection's body: the runtime names no better class for it.
    (error instanceof Deno.errors.BadResource && error.message.includes("request body"));
}

/** Hono's own refusals, in a sentence: its 415 names the content types we read. */
function httpExceptionMessage(error: HTTPException): string {
  if (error.status === 415) {
    return "Send the body as JSON with `Content-Type: application/json`.";
  }
  return error.message || "The request was not valid.";
}

export function createApp(ctx: AppContext, options: { bodyLimit: number }): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    // Unmatched paths only reach the catch-all middleware: one label for all of them keeps
    // the metric's cardinality bounded whatever URLs scanners try.
    const matched = routePath(c);
    const route = !matched || matched === "/*" ? "unmatched" : matched;
    const labels = { method: c.req.method, route };
    ctx.metrics.httpRequests.inc({ ...labels, status: String(c.res.status) });
    ctx.metrics.httpDuration.observe(labels, seconds);
    if (c.req.path !== "/health" && c.req.path !== "/metrics") {
      ctx.log.info("request", {
        requestId: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(seconds * 1e4) / 10,
      });
    }
  });
  const strictHeaders = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      connectSrc: ["'self'"],
      frameAncestors: ["'none'"],
      // The top-up form goes on to Paynow's own page for a web payment (routes/account.tsx).
      formAction: ["'self'", topUpFormTargets(ctx)],
      baseUri: ["'self'"],
      objectSrc: ["'none'"],
    },
    referrerPolicy: "strict-origin-when-cross-origin",
    strictTransportSecurity: ctx.config.env === "production" ? "max-age=31536000" : false,
  });
  // Swagger UI sets inline styles; its page (and only it) allows them.
  const docsHeaders = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", "data:"],
      frameAncestors: ["'none'"],
      objectSrc: ["'none'"],
    },
    referrerPolicy: "strict-origin-when-cross-origin",
    strictTransportSecurity: ctx.config.env === "production" ? "max-age=31536000" : false,
  });
  app.use((c, next) =>
    c.req.path.startsWith("/api/docs")
      ? docsHeaders(c, next)
      : c.req.path === EMBED_SCRIPT_PATH
      ? embedScriptHeaders(c, next)
      : strictHeaders(c, next)
  );
  const corsForFrontend = cors({
    origin: (origin) => ctx.config.corsOrigins.includes(origin) ? origin : null,
    credentials: true,
    allowHeaders: [
      "Authorization",
      "Content-Type",
      "Idempotency-Key",
      "Last-Event-ID",
      "X-CSRF-Token",
    ],
    exposeHeaders: ["Retry-After", "X-Request-Id"],
    maxAge: 600,
  });
  // Only cross-origin requests carry an Origin header to answer, and the CORS middleware is
  // costly next to a short API request, so it runs only for those.
  app.use("/api/*", (c, next) => {
    c.header("Vary", "Origin", { append: true });
    // A bot embed answers CORS for its own bot's allowed origins (routes/api/v1/bots_embed.ts).
    if (c.req.path.startsWith(EMBED_API_PREFIX)) return next();
    return c.req.header("origin") ? corsForFrontend(c, next) : next();
  });
  const limitBody = (bytes: number) =>
    bodyLimit({
      maxSize: bytes,
      onError: () => {
        throw new AppError(
          "payload_too_large",
          `The request body is larger than ${Math.round(bytes / 1024)} KB.`,
        );
      },
    });
  const generalLimit = limitBody(options.bodyLimit);
  const uploadLimit = limitBody(UPLOAD_BODY_LIMIT);
  app.use((c, next) => (isUpload(c.req.method, c.req.path) ? uploadLimit : generalLimit)(c, next));

  app.use((c, next) => {
    // Most URLs carry no percent sign at all: nothing to decode.
    if (c.req.url.includes("%")) checkUrlText(c);
    return next();
  });

  app.use(
    "/static/*",
    serveStaticFromMemory({
      root: STATIC_ROOT,
      // Built bundles carry a content hash in their name, so they never change.
      cacheControl: (path) =>
        path.startsWith("/static/build/") && /-[A-Z0-9]{8}\.js$/.test(path)
          ? "public, max-age=31536000, immutable"
          : "no-cache",
    }),
  );
  app.route("/", healthRoutes(ctx));
  app.route("/", metricsRoutes(ctx));
  // Signed by the provider, not by a session: mounted before the session middleware.
  app.route("/", whatsappRoutes(ctx));
  app.route("/", telegramRoutes(ctx));
  app.route("/", embedRoutes());
  const open = (c: Context) =>
    c.req.path.startsWith("/static/") || c.req.path === "/health" || c.req.path === "/metrics";
  const signedIn = authenticate(ctx);
  const sameOrigin = originCheck(ctx);
  app.use("*", (c, next) => open(c) ? next() : signedIn(c, next));
  app.use("*", (c, next) => open(c) ? next() : sameOrigin(c, next));
  app.route("/", homeRoutes(ctx));
  app.route("/", paynowRoutes(ctx));
  app.route("/", apiRoutes(ctx));
  app.route("/", loginRoutes(ctx));
  app.route("/", accountRoutes(ctx));
  app.route("/", chatPageRoutes(ctx));
  app.route("/", botPageRoutes(ctx));
  app.route("/", reportRoutes(ctx));
  app.route("/admin", adminRoutes(ctx));

  // A plain object, not an AppError: nothing is thrown, so no stack trace is worth capturing.
  app.notFound((c) =>
    errorResponse(c, { code: "not_found", message: `Nothing is served at ${c.req.path}.` })
  );
  app.onError((error, c) => {
    if (error instanceof AppError) return errorResponse(c, error);
    if (error instanceof HTTPException && error.status < 500) {
      const code = codeForStatus(error.status);
      return errorResponse(c, new AppError(code, httpExceptionMessage(error)));
    }
    if (isUnstorableTextError(error)) {
      // A field that escaped the text rule: the rule's answer, and a warning to add it.
      ctx.log.warn("text the database cannot store reached it", {
        requestId: c.get("requestId"),
        path: c.req.path,
      });
      return errorResponse(
        c,
        new AppError("validation_failed", `The request ${UNSTORABLE_TEXT}.`),
      );
    }
    if (isClientGone(error)) {
      ctx.log.info("client disconnected", {
        requestId: c.get("requestId"),
        path: c.req.path,
        reason: error.message,
      });
      return errorResponse(c, new AppError("bad_request", "The request ended before its body."));
    }
    ctx.log.error("unhandled error", {
      requestId: c.get("requestId"),
      path: c.req.path,
      error: { message: error.message, stack: error.stack },
    });
    return errorResponse(
      c,
      new AppError("internal", "Something went wrong on our side. Please try again shortly."),
    );
  });
  return app;
}
