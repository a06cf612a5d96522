/**
 * The account page for browsers (`/account`): what it shows is in ./account/page.tsx and its
 * parts; here, the page and the top-up form that starts a payment. The page's other forms
 * (WhatsApp number, API keys, profile, password) are in ./account/; linking Telegram is here
 * (its section: ./_telegram_link.tsx). Sign-up, log-in and password reset are in ./login.tsx.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { tierCache } from "../lib/accounts/tiers.ts";
import { AppError } from "../lib/errors.ts";
import { resetConversation } from "../lib/chat/mod.ts";
import { createLinkCode, unlinkUser } from "../lib/telegram/links.ts";
import { textField } from "../lib/text.ts";
import { CURRENCIES, PAYMENT_METHODS, startPayment } from "../lib/payments/mod.ts";
import { type AuthEnv, rateLimit } from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { isRefusal } from "./_errors.tsx";
import { firstProblem } from "./_form.ts";
import { apiKeyForms } from "./account/api_keys.tsx";
import { accountPosts } from "./account/_form.ts";
import { doneNotice, refusal, renderAccount } from "./account/page.tsx";
import { phoneForms } from "./account/phone.tsx";
import { profileForms } from "./account/profile.tsx";

const TopUpForm = z.object({
  packageId: z.uuid("choose a package"),
  currency: z.enum(CURRENCIES).optional(),
  method: z.enum(PAYMENT_METHODS, "choose how to pay"),
  phone: textField().trim().max(20).optional().transform((v) => v ? v : undefined),
  // Generated with the form: a double submit starts one payment (the idempotency key).
  nonce: textField().regex(/^[A-Za-z0-9_-]{16,64}$/),
}).refine((f) => f.method === "web" || f.phone, {
  message: "enter the mobile number that pays (e.g. 0771234567)",
});

/**
 * Where the account pages' forms may go besides our own origin (the CSP's `form-action`): the
 * Paynow hosts, since a web payment's answer is a redirect to Paynow's checkout page and the
 * browser checks every hop of a form's redirects against the page that sent it.
 */
export function topUpFormTargets(ctx: AppContext): (c: Context) => string {
  const origins = [
    ...new Set(
      Object.values(ctx.payments.paynow.clients).flatMap((client) =>
        client ? [new URL(client.baseUrl).origin] : []
      ),
    ),
  ].join(" ");
  return (c) => (c.req.path === "/account" || c.req.path.startsWith("/account/") ? origins : "");
}

export function accountRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const limited = rateLimit(ctx, tierCache(ctx.db.sql));
  const post = accountPosts(app, ctx);
  const limitedPost = accountPosts(app, ctx, limited);

  app.get("/account", (c) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect("/login?next=/account", 303);
    return renderAccount(c, ctx, auth.user, { notice: doneNotice(c.req.query("done")) });
  });
  phoneForms(ctx, limitedPost);
  apiKeyForms(ctx, limitedPost);
  profileForms(ctx, limitedPost);

  // Starts a payment from the form: the Paynow website for `web`, else the phone's prompt with
  // the live status on /pay/return. A refusal (bad number, Paynow's error) shows on the form.
  limitedPost("/account/top-up", async (c, { user, values }) => {
    const refuse = refusal(c, ctx, user, "topUp", values);
    const parsed = TopUpForm.safeParse(values);
    if (!parsed.success) return refuse(firstProblem(parsed.error));
    const { nonce, ...choice } = parsed.data;
    let payment;
    try {
      payment = await startPayment(ctx.payments, {
        userId: user.id,
        ...choice,
        channel: "web",
        idempotencyKey: `account-form:${nonce}`,
      });
    } catch (error) {
      if (isRefusal(error)) return refuse(error.message);
      throw error;
    }
    if (payment.status === "failed") {
      // Paynow's refusal, already a sentence for the user (e.g. "Insufficient balance").
      return refuse(payment.error ?? "Paynow refused the payment.");
    }
    if (payment.method === "web" && payment.browserUrl) {
      return c.redirect(payment.browserUrl, 303);
    }
    return c.redirect(`/pay/return?payment=${payment.id}`, 303);
  });

  // Telegram: a one-time code shown in this answer only (no-store), and the unlink.
  post("/account/telegram/code", async (c, { user }) => {
    if (!ctx.telegram) throw new AppError("not_found", "Telegram is not available.");
    c.header("Cache-Control", "no-store");
    try {
      const { code } = await createLinkCode(ctx.db.sql, ctx.telegram.codeSecret, user.id);
      return await renderAccount(c, ctx, user, { telegram: { code } });
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== "rate_limited") throw error;
      return await renderAccount(c, ctx, user, { telegram: { problem: error.message } });
    }
  });

  post("/account/telegram/unlink", async (c, { user }) => {
    if (await unlinkUser(ctx.db.sql, user.id)) {
      await resetConversation(ctx.chat, user.id, "telegram");
      ctx.log.info("Telegram chat unlinked from the account page", { userId: user.id });
    }
    return c.redirect("/account#telegram", 303);
  });

  return app;
}
