/**
 * WhatsApp webhooks (docs/whatsapp.md). Thin: the raw bytes go to lib/whatsapp/inbound,
 * which checks the signature over them before anything is parsed, stores, queues the reply and
 * says what to answer. Mounted before the session middleware: providers carry no cookies, and
 * the signature is their authentication.
 *
 * - `GET /api/whatsapp/webhook` — Meta's verification handshake (echo `hub.challenge`).
 * - `POST /api/whatsapp/webhook` — Meta Cloud API deliveries (`X-Hub-Signature-256`).
 *   https://developers.facebook.com/docs/graph-api/webhooks/getting-started
 * - `POST /api/whatsapp/twilio` — Twilio deliveries and status callbacks (`X-Twilio-Signature`
 *   over PUBLIC_URL + path + sorted form fields); answered with empty TwiML.
 *   https://www.twilio.com/docs/usage/webhooks/webhooks-security
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { ProviderName } from "../lib/whatsapp/types.ts";
import { WEBHOOK_BODY_LIMIT, type WebhookAnswer } from "../lib/whatsapp/inbound.ts";
import type { AuthEnv } from "./_auth.ts";
import { readBodyWithin } from "./_body.ts";
import type { AppContext } from "./_context.ts";

const answer = (c: Context, a: WebhookAnswer) =>
  c.body(a.body, a.status as 200, {
    "content-type": `${a.contentType}; charset=utf-8`,
    ...(a.retryAfterSeconds ? { "retry-after": String(a.retryAfterSeconds) } : {}),
  });

export function whatsappRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  app.get("/api/whatsapp/webhook", (c) => {
    return answer(c, ctx.webhooks.verify(new URL(c.req.url).searchParams));
  });

  const receive = (provider: ProviderName) => async (c: Context<AuthEnv>) => {
    const startedAt = performance.now();
    const url = new URL(c.req.url);
    const request = {
      provider,
      method: c.req.method,
      pathAndQuery: url.pathname + url.search,
      headers: c.req.raw.headers,
      startedAt,
    };
    const limit = WEBHOOK_BODY_LIMIT[provider];
    const declared = Number(c.req.header("content-length") ?? NaN);
    const body = await readBodyWithin(c.req.raw, limit);
    if (!body) return answer(c, await ctx.webhooks.tooLarge(request, declared || limit + 1));
    return answer(c, await ctx.webhooks.receive({ ...request, body }));
  };
  app.post("/api/whatsapp/webhook", receive("meta"));
  app.post("/api/whatsapp/twilio", receive("twilio"));
  return app;
}
