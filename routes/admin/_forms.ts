/**
 * Admin forms: every POST carries the page's CSRF token (`_csrf`), checked before anything is
 * read from the form; the answer is a redirect (303) back to the page with a notice or problem
 * code, so a reload never posts twice.
 */
import type { Context } from "hono";
import { type AuthEnv, checkCsrf } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { readForm } from "../_form.ts";
import { notFound } from "../../lib/errors.ts";

/** The form's string fields, after its CSRF token was checked. */
export async function adminForm(
  c: Context<AuthEnv>,
  ctx: AppContext,
): Promise<Record<string, string>> {
  const values = await readForm(c);
  await checkCsrf(c, ctx, values._csrf);
  return values;
}

/** Back to `path` with a notice (`{ notice: "saved" }`) or a problem (`{ problem: "reason" }`). */
export function back(
  c: Context,
  path: string,
  outcome: { notice: string } | { problem: string },
): Response {
  const [key, code] = Object.entries(outcome)[0];
  const sep = path.includes("?") ? "&" : "?";
  return c.redirect(`${path}${sep}${key}=${encodeURIComponent(code)}`, 303);
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What `find` finds by `id`, or the 404 of `what` ("This user"): an id that is not a UUID names
 * nothing, and is never sent to the database (whose uuid columns would refuse it).
 */
export async function foundById<T>(
  id: string,
  what: string,
  find: (id: string) => Promise<T | null>,
): Promise<T> {
  const found = UUID.test(id) ? await find(id) : null;
  if (!found) throw notFound(what);
  return found;
}
