/**
 * What every form of the account page does first: a signed-in browser (else to /login), the
 * form read by the shared rules (routes/_form.ts) and its CSRF token checked.
 */
import type { Context, Handler, Hono, MiddlewareHandler } from "hono";
import type { User } from "../../lib/accounts/users.ts";
import { type AuthEnv, checkCsrf } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { readForm } from "../_form.ts";

/** A form sent from the account page: who sent it and its fields. */
export interface AccountPost {
  user: User;
  values: Record<string, string>;
}

type AccountHandler = (c: Context<AuthEnv>, form: AccountPost) => Promise<Response>;
/** Registers the POST handler of an account form at a path. */
export type AccountPoster = (path: string, handle: AccountHandler) => void;

/**
 * `post(path, handle)` registers an account form's POST on `app` (behind `limited` if given):
 * `handle` runs once the form passed the checks above.
 */
export function accountPosts(
  app: Hono<AuthEnv>,
  ctx: AppContext,
  limited?: MiddlewareHandler<AuthEnv>,
): AccountPoster {
  return (path, handle) => {
    const handler: Handler<AuthEnv> = async (c) => {
      const auth = c.get("auth");
      if (!auth) return c.redirect("/login?next=/account", 303);
      const values = await readForm(c);
      await checkCsrf(c, ctx, values._csrf);
      return handle(c, { user: auth.user, values });
    };
    if (limited) app.post(path, limited, handler);
    else app.post(path, handler);
  };
}
