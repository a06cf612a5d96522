/**
 * The account page for browsers (`/account`): the balance, and the top-up form that starts a
 * payment. Sign-up, log-in and password reset are in ./login.tsx.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { tierCache } from "../lib/accounts/tiers.ts";
import type { User } from "../lib/accounts/users.ts";
import { AppError } from "../lib/http/errors.ts";
import { randomToken } from "../lib/security/tokens.ts";
import { textField } from "../lib/text.ts";
import { getBalance } from "../lib/wallet/ledger.ts";
import {
  CURRENCIES,
  EXPRESS_METHODS,
  listBuyablePackages,
  METHOD_NAMES,
  offeredCurrencies,
  PAYMENT_METHODS,
  startPayment,
} from "../lib/payments/mod.ts";
import { type AuthEnv, checkCsrf, pageCsrfToken, rateLimit } from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { firstProblem, readForm } from "./_form.ts";
import { renderPage } from "./_render.tsx";

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

/** Mobile money first (most payers), then Paynow's own page. */
const METHODS = [...EXPRESS_METHODS, "web" as const].map((m) => [m, METHOD_NAMES[m]] as const);

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
  const sandboxed = ctx.config.sandboxed;

  /** The account page: balance, and the top-up form (`#top-up`, where a 402 points). */
  const accountPage = async (
    c: Context<AuthEnv>,
    user: User,
    problem?: string,
    values: Record<string, string> = {},
  ) => {
    const wallet = await getBalance(ctx.db.sql, user.id);
    const currencies = offeredCurrencies(ctx.payments.paynow);
    const packages = await listBuyablePackages(ctx.db.sql, currencies);
    const csrf = await pageCsrfToken(c, ctx);
    return renderPage(c, {
      title: "Your account",
      sandboxed,
      body: (
        <section>
          <h1>Hello, {user.displayName ?? user.email}</h1>
          <p>
            Balance: <strong data-testid="balance">{wallet.available}</strong> tokens
          </p>
          <section id="top-up" aria-labelledby="top-up-title" class="narrow">
            <h2 id="top-up-title">Buy tokens</h2>
            {packages.length === 0
              ? <p>Payments are not available right now.</p>
              : (
                <form method="post" action="/account/top-up" class="stack">
                  <input type="hidden" name="_csrf" value={csrf} />
                  <input type="hidden" name="nonce" value={randomToken(24)} />
                  {problem && <p role="alert" class="error">{problem}</p>}
                  <fieldset>
                    <legend>Package</legend>
                    {packages.map((p, i) => (
                      <label class="check">
                        <input
                          type="radio"
                          name="packageId"
                          value={p.id}
                          checked={values.packageId ? values.packageId === p.id : i === 0}
                        />{" "}
                        {p.name}: {p.tokens.toLocaleString("en-US")} tokens for{" "}
                        {currencies.map((cur) => `${cur} ${p.prices[cur]}`).join(" or ")}
                      </label>
                    ))}
                  </fieldset>
                  {currencies.length > 1 && (
                    <label>
                      Currency
                      <select name="currency">
                        {currencies.map((cur) => (
                          <option value={cur} selected={values.currency === cur}>{cur}</option>
                        ))}
                      </select>
                    </label>
                  )}
                  <label>
                    Pay with
                    <select name="method">
                      {METHODS.map(([value, label]) => (
                        <option value={value} selected={values.method === value}>{label}</option>
                      ))}
                    </select>
                  </label>
                  <label>
                    Mobile number that pays (not needed for the Paynow website)
                    <input
                      name="phone"
                      type="tel"
                      inputMode="tel"
                      autocomplete="tel"
                      placeholder="0771234567"
                      value={values.phone ?? user.phone ?? ""}
                    />
                  </label>
                  <button type="submit">Buy tokens</button>
                </form>
              )}
          </section>
          <form method="post" action="/logout">
            <input type="hidden" name="_csrf" value={csrf} />
            <button type="submit">Log out</button>
          </form>
        </section>
      ),
    }, problem ? 400 : 200);
  };

  app.get("/account", (c) => {
    const auth = c.get("auth");
    if (!auth) return c.redirect("/login?next=/account", 303);
    return accountPage(c, auth.user);
  });

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
