/**
 * Reading an HTML form's fields, for the account pages and the admin dashboard alike: the body
 * must be a form (`application/x-www-form-urlencoded` or `multipart/form-data`; anything else,
 * or a body with no content type, is a 415), and every field follows the text rule
 * (lib/text.ts) before any of it is used. Files are ignored: no form here uploads one.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { AppError } from "../lib/errors.ts";
import { UNSTORABLE_TEXT, unstorableField } from "../lib/text.ts";

const FORM_TYPE = /^(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

/** The form's string fields; throws a 415 or a 400 naming the field that breaks the text rule. */
export async function readForm(c: Context): Promise<Record<string, string>> {
  const type = c.req.header("content-type");
  if (!type || !FORM_TYPE.test(type)) {
    // A POST with no body at all (a bare button, a probe) reads as an empty form.
    if (!type && (await c.req.arrayBuffer()).byteLength === 0) return {};
    throw new AppError(
      "unsupported_media_type",
      "Send this form as application/x-www-form-urlencoded or multipart/form-data " +
        `(Content-Type was ${type ? `"${type.slice(0, 100)}"` : "missing"}).`,
    );
  }
  let body: Awaited<ReturnType<typeof c.req.parseBody>>;
  try {
    body = await c.req.parseBody();
  } catch {
    // A multipart body without its boundary, or cut short.
    throw new AppError("bad_request", "The form could not be read. Reload the page and try again.");
  }
  const fields = Object.entries(body).filter((e): e is [string, string] =>
    typeof e[1] === "string"
  );
  const bad = unstorableField(fields);
  if (bad) throw new AppError("validation_failed", `${bad}: ${UNSTORABLE_TEXT}.`, { field: bad });
  return Object.fromEntries(fields);
}

/** The first problem of a form's schema, as the sentence shown above the form. */
export function firstProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue.message.charAt(0).toUpperCase() + issue.message.slice(1) + ".";
}
