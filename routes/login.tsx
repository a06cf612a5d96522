/**
 * The pages that let a browser in and out: `/signup`, `/login`, `/logout`, `/reset`.
 * Plain HTML forms (they work without JavaScript), protected by a CSRF token, answered with a
 * redirect on success (so a reload never posts twice) or the same form with the problem named,
 * under the status the API would give (401 for a wrong password, 429 while throttled).
 */
import { announceSignUp } from "../lib/accounts/signed_up.ts";
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import {
  ADMIN_SESSION_TTL_HOURS,
  createSession,
  revokeSession,
  SESSION_TTL_DAYS,
} from "../lib/accounts/credentials.ts";
import { logIn } from "../lib/accounts/login.ts";
import { completePasswordReset } from "../lib/accounts/password_reset.ts";
import { tierCache } from "../lib/accounts/tiers.ts";
import { createUser, isStaff, type User } from "../lib/accounts/users.ts";
import { textField } from "../lib/text.ts";
import {
  type AuthEnv,
  checkCsrf,
  cookieOptions,
  loginDeps,
  pageCsrfToken,
  rateLimit,
  SESSION_COOKIE,
} from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { isRefusal, refusalStatus } from "./_errors.tsx";
import { firstProblem, readForm } from "./_form.ts";
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

interface FormProps {
  action: string;
  csrf: string;
  fields: Field[];
  submit: string;
  error?: string;
  extra?: preact.ComponentChildren;
}

const emailField = (value?: string): Field => ({
  name: "email",
  label: "E-mail",
  type: "email",
  autocomplete: "email",
  value,
});

/** A new password: the rule the form checks, said under the field. */
const passwordField = (label: string, autocomplete: string): Field => ({
  name: "password",
  label,
  type: "password",
  autocomplete,
  hint: "At least 8 characters.",
});

function Form(props: FormProps) {
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
  // Staff (admins and officers) get the short admin session that opens /admin.
  const admin = isStaff(user.role);
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
  password: textField().min(8, "choose a password of at least 8 characters").max(256),
  displayName: textField().trim().max(80).optional(),
});

const LoginForm = z.object({
  email: textField().min(1, "enter your e-mail"),
  password: textField().min(1, "enter your password").max(256),
  next: textField().optional(),
});

export function loginRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const limited = rateLimit(ctx, tierCache(ctx.db.sql));
  const sandboxed = ctx.config.sandboxed;

  /** A page of one form in the narrow column, titled, with the refusal above the form. */
  const formPage = async (
    c: Context<AuthEnv>,
    page: { title: string; form: Omit<FormProps, "csrf" | "error"> },
    error?: string,
    status: ContentfulStatusCode = error ? 400 : 200,
  ) =>
    renderPage(c, {
      title: page.title,
      sandboxed,
      body: (
        <section class="narrow">
          <h1>{page.title}</h1>
          <Form {...page.form} csrf={await pageCsrfToken(c, ctx)} error={error} />
        </section>
      ),
    }, status);

  const signupPage = (values: Record<string, string> = {}) => ({
    title: "Create your account",
    form: {
      action: "/signup",
      submit: "Create account",
      fields: [
        {
          name: "displayName",
          label: "Your name (optional)",
          type: "text",
          autocomplete: "name",
          value: values.displayName,
        },
        emailField(values.email),
        passwordField("Password", "new-password"),
      ],
      extra: (
        <p>
          Already have an account? <a href="/login">Log in</a>
        </p>
      ),
    },
  });

  const loginPage = (values: Record<string, string> = {}) => ({
    title: "Log in",
    form: {
      action: `/login${values.next ? `?next=${encodeURIComponent(values.next)}` : ""}`,
      submit: "Log in",
      fields: [emailField(values.email), {
        name: "password",
        label: "Password",
        type: "password",
        autocomplete: "current-password",
      }],
      extra: (
        <p>
          <a href="/reset">Forgot your password?</a> · New here?{" "}
          <a href="/signup">Create an account</a>
        </p>
      ),
    },
  });

  app.get(
    "/signup",
    (c) => c.get("auth") ? c.redirect("/account", 303) : formPage(c, signupPage()),
  );
  app.post("/signup", limited, async (c) => {
    const values = await readForm(c);
    await checkCsrf(c, ctx, values._csrf);
    const parsed = SignupForm.safeParse(values);
    if (!parsed.success) return formPage(c, signupPage(values), firstProblem(parsed.error));
    try {
      const user = await createUser(ctx.db.sql, parsed.data);
      await startSession(c, ctx, user);
      ctx.log.info("account created", { userId: user.id, email: user.email, via: "web" });
      await announceSignUp(ctx.db, ctx.log, user.id, "web");
      return c.redirect("/account", 303);
    } catch (error) {
      if (isRefusal(error)) {
        return formPage(c, signupPage(values), error.message, refusalStatus(c, error));
      }
      throw error;
    }
  });

  app.get(
    "/login",
    (c) =>
      c.get("auth")
        ? c.redirect(safeNext(c.req.query("next")), 303)
        : formPage(c, loginPage({ next: c.req.query("next") ?? "" })),
  );
  app.post("/login", limited, async (c) => {
    const values: Record<string, string> = {
      ...await readForm(c),
      next: c.req.query("next") ?? "",
    };
    await checkCsrf(c, ctx, values._csrf);
    const parsed = LoginForm.safeParse(values);
    if (!parsed.success) return formPage(c, loginPage(values), firstProblem(parsed.error));
    try {
      const user = await logIn(loginDeps(ctx), parsed.data.email, parsed.data.password);
      await startSession(c, ctx, user);
      return c.redirect(safeNext(parsed.data.next), 303);
    } catch (error) {
      if (isRefusal(error)) {
        return formPage(c, loginPage(values), error.message, refusalStatus(c, error));
      }
      throw error;
    }
  });

  app.post("/logout", async (c) => {
    const values = await readForm(c);
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
                  passwordField("New password", "new-password"),
                ]}
              />
            )
            : (
              <Form
                action="/reset"
                csrf={csrf}
                submit="E-mail me a reset link"
                fields={[emailField()]}
              />
            )}
        </section>
      ),
    });
  });

  app.post("/reset", limited, async (c) => {
    const values = await readForm(c);
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
    const values = await readForm(c);
    await checkCsrf(c, ctx, values._csrf);
    try {
      await completePasswordReset(ctx.db.sql, values.token ?? "", values.password ?? "");
    } catch (error) {
      if (!isRefusal(error)) throw error;
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

  return app;
}
