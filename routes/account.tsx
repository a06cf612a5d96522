/**
 * The account page for browsers (`/account`): what it shows is in ./account/page.tsx and its
 * parts; here, the page and the top-up form that starts a payment. The page's other forms
 * (WhatsApp number, API keys, profile, password) are in ./account/. Sign-up, log-in and
 * password reset are in ./login.tsx.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { tierCache } from "../lib/accounts/tiers.ts";
import type { User } from "../lib/accounts/users.ts";
import { AppError } from "../lib/http/errors.ts";
import { textField } from "../lib/text.ts";
import { CURRENCIES, PAYMENT_METHODS, startPayment } from "../lib/payments/mod.ts";
import { type AuthEnv, checkCsrf, rateLimit } from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { firstProblem, readForm } from "./_form.ts";
import { accountApiKeyRoutes } from "./account/api_keys.tsx";
import { doneNotice, renderAccount } from "./account/page.tsx";
import { accountPhoneRoutes } from "./account/phone.tsx";
import { accountProfileRoutes } from "./account/profile.tsx";

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

  /** The account page (routes/account/page.tsx), with the top-up form's problem if any. */
  const accountPage = (
    c: Context<AuthEnv>,
    user: User,
    problem?: string,
    values: Record<string, string> = {},
  ) =>
    renderAccount(c, ctx, user, {
      problem: problem ? { form: "topUp", message: problem } : undefined,
      values,
    });

  app.get("/account", (c) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect("/login?next=/account", 303);
    return renderAccount(c, ctx, auth.user, { notice: doneNotice(c.req.query("done")) });
  });
  app.route("/", accountPhoneRoutes(ctx, limited));
  app.route("/", accountApiKeyRoutes(ctx, limited));
  app.route("/", accountProfileRoutes(ctx, limited));

  // Starts a payment from the form: the Paynow website for `web`, else the phone's prompt with
  // the live status on /pay/return. A refusal (bad number, Paynow's error) shows on the form.
  app.post("/account/top-up", limited, async (c) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect("/login?next=/account", 303);
    const values = await readForm(c);
    await checkCsrf(c, ctx, values._csrf);
    const parsed = TopUpForm.safeParse(values);
    if (!parsed.success) return accountPage(c, auth.user, firstProblem(parsed.error), values);
    const { nonce, ...choice } = parsed.data;
    let payment;
    try {
      payment = await startPayment(ctx.payments, {
        userId: auth.user.id,
        ...choice,
        channel: "web",
        idempotencyKey: `account-form:${nonce}`,
      });
    } catch (error) {
      if (error instanceof AppError && error.status < 500) {
        return accountPage(c, auth.user, error.message, values);
      }
      throw error;
    }
    if (payment.status === "failed") {
      // Paynow's refusal, already a sentence for the user (e.g. "Insufficient balance").
      return accountPage(c, auth.user, payment.error ?? "Paynow refused the payment.", values);
    }
    if (payment.method === "web" && payment.browserUrl) {
      return c.redirect(payment.browserUrl, 303);
    }
    return c.redirect(`/pay/return?payment=${payment.id}`, 303);
  });

  return app;
}
