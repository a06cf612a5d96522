/**
 * What every form of the account page does first: a signed-in browser (else to /login), the
 * form read by the shared rules (routes/_form.ts) and its CSRF token checked.
 */
import type { Context } from "hono";
import type { User } from "../../lib/accounts/users.ts";
import { type AuthEnv, checkCsrf } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { readForm } from "../_form.ts";

export type AccountPost =
  | { user: User; values: Record<string, string>; redirect?: undefined }
  | { redirect: Response };

export async function readAccountForm(c: Context<AuthEnv>, ctx: AppContext): Promise<AccountPost> {
  const auth = c.get("auth");
  if (!auth) return { redirect: c.redirect("/login?next=/account", 303) };
  const values = await readForm(c);
  await checkCsrf(c, ctx, values._csrf);
  return { user: auth.user, values };
}
