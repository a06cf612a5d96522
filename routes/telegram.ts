/**
 * The Telegram webhook (https://core.telegram.org/bots/api#setwebhook). Thin: lib/telegram/intake
 * checks the secret, records the update and queues the reply. Mounted before the session
 * middleware: Telegram carries no cookies; the secret is its authentication.
 *
 * `POST /api/telegram/webhook`
 * - 404 while the channel is off (no TELEGRAM_WEBHOOK_SECRET): as if nothing were served here;
 * - 401, without detail, when `X-Telegram-Bot-Api-Secret-Token` is missing or wrong (checked
 *   before the body is read);
 * - 413 for a body larger than any update Telegram sends;
 * - 200 for everything authentic, understood or not (an error would only make Telegram send it
 *   again); 503 when the database cannot record it (Telegram retries).
 */
import { Hono } from "hono";
import { AppError } from "../lib/errors.ts";
import { authentic, receiveUpdate, TELEGRAM_WEBHOOK_BODY_LIMIT } from "../lib/telegram/intake.ts";
import type { AuthEnv } from "./_auth.ts";
import { readBodyWithin } from "./_body.ts";
import type { AppContext } from "./_context.ts";

const PATH = "/api/telegram/webhook";

export function telegramRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.post(PATH, async (c) => {
    const telegram = ctx.telegram;
    if (!telegram) throw new AppError("not_found", `Nothing is served at ${PATH}.`);
    if (!authentic(telegram, c.req.raw.headers)) {
      throw new AppError("unauthorized", "Unauthorized.");
    }
    const body = await readBodyWithin(c.req.raw, TELEGRAM_WEBHOOK_BODY_LIMIT);
    if (!body) {
      throw new AppError(
        "payload_too_large",
        `A Telegram update is at most ${TELEGRAM_WEBHOOK_BODY_LIMIT / 1024} KB.`,
      );
    }
    const outcome = await receiveUpdate(telegram, body);
    return c.json({ ok: true, outcome });
  });
  return app;
}
