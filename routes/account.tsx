/**
 * The account pages for browsers: `/signup`, `/login`, `/logout`, `/reset`, `/account`.
 * Plain HTML forms (they work without JavaScript), protected by a CSRF token, answered with a
 * redirect on success (so a reload never posts twice) or the same form with the problem named.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import {
  ADMIN_SESSION_TTL_HOURS,
  createSession,
  revokeSession,
  SESSION_TTL_DAYS,
} from "../lib/accounts/credentials.ts";
import { completePasswordReset } from "../lib/accounts/password_reset.ts";
import { tierCache } from "../lib/accounts/tiers.ts";
import { authenticate as checkPassword, createUser, type User } from "../lib/accounts/users.ts";
import { AppError } from "../lib/http/errors.ts";
import { randomToken } from "../lib/security/tokens.ts";
import { getBalance } from "../lib/wallet/ledger.ts";
import { listBuyablePackages } from "../lib/payments/packages.ts";
import { offeredCurrencies, startPayment } from "../lib/payments/payments.ts";
import {
  type AuthEnv,
  checkCsrf,
  cookieOptions,
  pageCsrfToken,
  rateLimit,
  SESSION_COOKIE,
} from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { requestPasswordReset } from "./_mail.ts";
import { renderPage } from "./_render.tsx";

type Field = {
  name: string;
  label: string;
  type: string;
  autocomplete?: string;
  value?: string;
  hint?: string;
};

function Form(props: {
  action: string;
  csrf: string;
  fields: Field[];
  submit: string;
  error?: string;
  extra?: preact.ComponentChildren;
}) {
  return (
    <form method="post" action={props.action} class="stack" novalidate>
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.error && <p class="form-error" role="alert">{props.error}</p>}
      {props.fields.map((f) => (
        <label>
          {f.label}
          <input
            name={f.name}
            type={f.type}
            autocomplete={f.autocomplete}
            value={f.value}
            required={f.name !== "displayName"}
          />
          {f.hint && <small>{f.hint}</small>}
        </label>
      ))}
      <button type="submit">{props.submit}</button>
      {props.extra}
    </form>
  );
}

/** Only local paths: a `next` parameter must never send the user to another site. */
function safeNext(next: unknown): string {
  return typeof next === "string" && /^\/(?!\/)[\w\-./?=&%]*$/.test(next) ? next : "/account";
}

async function startSession(c: Context<AuthEnv>, ctx: AppContext, user: User) {
  const admin = user.role === "admin";
  const session = await createSession(ctx.db.sql, user.id, { admin });
  setCookie(
    c,
    SESSION_COOKIE,
    session.token,
    cookieOptions(ctx, admin ? ADMIN_SESSION_TTL_HOURS * 3600 : SESSION_TTL_DAYS * 86400),
  );
}

const SignupForm = z.object({
  email: z.email("enter a valid e-mail address"),
  password: z.string().min(8, "choose a password of at least 8 characters").max(256),
  displayName: z.string().trim().max(80).optional(),
});

const LoginForm = z.object({
  email: z.string().min(1, "enter your e-mail"),
  password: z.string().min(1, "enter your password").max(256),
  next: z.string().optional(),
});

const TopUpForm = z.object({
  packageId: z.uuid("choose a package"),
  currency: z.enum(["USD", "ZiG"]).optional(),
  method: z.enum(["web", "ecocash", "onemoney", "innbucks"], "choose how to pay"),
  phone: z.string().trim().max(20).optional().transform((v) => v ? v : undefined),
  // Generated with the form: a double submit starts one payment (the idempotency key).
  nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
}).refine((f) => f.method === "web" || f.phone, {
  message: "enter the mobile number that pays (e.g. 0771234567)",
});

const METHODS = [
  ["ecocash", "EcoCash"],
  ["onemoney", "OneMoney"],
  ["innbucks", "InnBucks"],
  ["web", "Paynow website (card, bank, wallets)"],
] as const;

function firstProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue.message.charAt(0).toUpperCase() + issue.message.slice(1) + ".";
}

async function form(c: Context<AuthEnv>): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  return Object.fromEntries(
    Object.entries(body).filter(([, v]) => typeof v === "string"),
  ) as Record<string, string>;
}

export function accountRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const limited = rateLimit(ctx, tierCache(ctx.db.sql));
  const sandboxed = ctx.config.sandboxed;

  const signupPage = async (
    c: Context<AuthEnv>,
    error?: string,
    values: Record<string, string> = {},
  ) =>
    renderPage(c, {
      title: "Create your account",
      sandboxed,
      body: (
        <section class="narrow">
          <h1>Create your account</h1>
          <Form
            action="/signup"
            csrf={await pageCsrfToken(c, ctx)}
            error={error}
            submit="Create account"
            fields={[
              {
                name: "displayName",
                label: "Your name (optional)",
                type: "text",
                autocomplete: "name",
                value: values.displayName,
              },
              {
                name: "email",
                label: "E-mail",
                type: "email",
                autocomplete: "email",
                value: values.email,
              },
              {
                name: "password",
                label: "Password",
                type: "password",
                autocomplete: "new-password",
                hint: "At least 8 characters.",
              },
            ]}
            extra={
              <p>
                Already have an account? <a href="/login">Log in</a>
              </p>
            }
          />
        </section>
      ),
    }, error ? 400 : 200);

  const loginPage = async (
    c: Context<AuthEnv>,
    error?: string,
    values: Record<string, string> = {},
  ) =>
    renderPage(c, {
      title: "Log in",
      sandboxed,
      body: (
        <section class="narrow">
          <h1>Log in</h1>
          <Form
            action={`/login${values.next ? `?next=${encodeURIComponent(values.next)}` : ""}`}
            csrf={await pageCsrfToken(c, ctx)}
            error={error}
            submit="Log in"
            fields={[
              {
                name: "email",
                label: "E-mail",
                type: "email",
                autocomplete: "email",
                value: values.email,
              },
              {
                name: "password",
                label: "Password",
                type: "password",
                autocomplete: "current-password",
              },
            ]}
            extra={
              <p>
                <a href="/reset">Forgot your password?</a> · New here?{" "}
                <a href="/signup">Create an account</a>
              </p>
            }
          />
        </section>
      ),
    }, error ? 400 : 200);

  app.get("/signup", (c) => c.get("auth") ? c.redirect("/account", 303) : signupPage(c));
  app.post("/signup", limited, async (c) => {
    const values = await form(c);
    await checkCsrf(c, ctx, values._csrf);
    const parsed = SignupForm.safeParse(values);
    if (!parsed.success) return signupPage(c, firstProblem(parsed.error), values);
    try {
      const user = await createUser(ctx.db.sql, parsed.data);
      await startSession(c, ctx, user);
      ctx.log.info("account created", { userId: user.id, email: user.email, via: "web" });
      return c.redirect("/account", 303);
    } catch (error) {
      if (error instanceof AppError && error.status < 500) {
        return signupPage(c, error.message, values);
      }
      throw error;
    }
  });

  app.get(
    "/login",
    (c) =>
      c.get("auth") ? c.redirect(safeNext(c.req.query("next")), 303) : loginPage(c, undefined, {
        next: c.req.query("next") ?? "",
      }),
  );
  app.post("/login", limited, async (c) => {
    const values: Record<string, string> = { ...await form(c), next: c.req.query("next") ?? "" };
    await checkCsrf(c, ctx, values._csrf);
    const parsed = LoginForm.safeParse(values);
    if (!parsed.success) return loginPage(c, firstProblem(parsed.error), values);
    try {
      const user = await checkPassword(ctx.db.sql, parsed.data.email, parsed.data.password);
      await startSession(c, ctx, user);
      return c.redirect(safeNext(parsed.data.next), 303);
    } catch (error) {
      if (error instanceof AppError && error.status < 500) {
        return loginPage(c, error.message, values);
      }
      throw error;
    }
  });

  app.post("/logout", async (c) => {
    const values = await form(c);
    await checkCsrf(c, ctx, values._csrf);
    const auth = c.get("auth");
    if (auth?.sessionToken) await revokeSession(ctx.db.sql, auth.sessionToken);
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.redirect("/", 303);
  });

  app.get("/reset", async (c) => {
    const token = c.req.query("token");
    const csrf = await pageCsrfToken(c, ctx);
    return renderPage(c, {
      title: "Reset your password",
      sandboxed,
      body: (
        <section class="narrow">
          <h1>{token ? "Choose a new password" : "Reset your password"}</h1>
          {token
            ? (
              <Form
                action="/reset/confirm"
                csrf={csrf}
                submit="Save new password"
                fields={[
                  { name: "token", label: "", type: "hidden", value: token },
                  {
                    name: "password",
                    label: "New password",
                    type: "password",
                    autocomplete: "new-password",
                    hint: "At least 8 characters.",
                  },
                ]}
              />
            )
            : (
              <Form
                action="/reset"
                csrf={csrf}
                submit="E-mail me a reset link"
                fields={[{ name: "email", label: "E-mail", type: "email", autocomplete: "email" }]}
              />
            )}
        </section>
      ),
    });
  });

  app.post("/reset", limited, async (c) => {
    const values = await form(c);
    await checkCsrf(c, ctx, values._csrf);
    const email = z.email().safeParse(values.email?.trim());
    if (email.success) await requestPasswordReset(ctx, email.data);
    return renderPage(c, {
      title: "Check your e-mail",
      sandboxed,
      body: (
        <section class="narrow">
          <h1>Check your e-mail</h1>
          <p role="status">
            If an account uses this e-mail, a reset link is on its way. It works once, for 30
            minutes.
          </p>
        </section>
      ),
    });
  });

  app.post("/reset/confirm", limited, async (c) => {
    const values = await form(c);
    await checkCsrf(c, ctx, values._csrf);
    try {
      await completePasswordReset(ctx.db.sql, values.token ?? "", values.password ?? "");
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      return renderPage(c, {
        title: "Reset your password",
        sandboxed,
        body: (
          <section class="narrow">
            <h1>That did not work</h1>
            <p class="form-error" role="alert">{error.message}</p>
            <p>
              <a href="/reset">Ask for a new link</a>
            </p>
          </section>
        ),
      }, 400);
    }
    return renderPage(c, {
      title: "Password changed",
      sandboxed,
      body: (
        <section class="narrow">
          <h1>Password changed</h1>
          <p role="status">
            Your new password is set. <a href="/login">Log in</a> with it.
          </p>
        </section>
      ),
    });
  });

  /** The account page: balance, and the top-up form (`#top-up`, where a 402 points). */
  const accountPage = async (
    c: Context<AuthEnv>,
    user: User,
    problem?: string,
    values: Record<string, string> = {},
  ) => {
    const wallet = await getBalance(ctx.db.sql, user.id);
    const currencies = offeredCurrencies(ctx.payments().paynow);
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
    const values = await form(c);
    await checkCsrf(c, ctx, values._csrf);
    const parsed = TopUpForm.safeParse(values);
    if (!parsed.success) return accountPage(c, auth.user, firstProblem(parsed.error), values);
    const { nonce, ...choice } = parsed.data;
    let payment;
    try {
      payment = await startPayment(ctx.payments(), {
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
