/**
 * The text rule, applied wherever text enters Hurukuro (API schemas, HTML forms, URLs): text is
 * accepted only if it can be stored exactly as it was sent.
 *
 * - U+0000 (NUL): PostgreSQL refuses it in `text` ("invalid byte sequence for encoding UTF8:
 *   0x00"), so it would fail the request half-way.
 * - An unpaired UTF-16 surrogate: it has no UTF-8 form, so the driver silently stores U+FFFD in
 *   its place and JSON round-trips disagree about it.
 *
 * Both are refused with a 400 naming the field, never stripped: no honest client sends them,
 * and refusing keeps what is stored identical to what the user sent. Every other character
 * (zero-width, right-to-left marks, emoji) is the user's to write.
 */
import { z } from "zod";

export const UNSTORABLE_TEXT = "contains a character that cannot be stored (U+0000 or an " +
  "unpaired surrogate)";

export function isStorableText(text: string): boolean {
  return !text.includes("\u0000") && text.isWellFormed();
}

/**
 * A zod string that follows the text rule: the base of every text field a request carries.
 * @example const Body = z.strictObject({ title: textField().trim().max(120) });
 */
export function textField(): z.ZodString {
  return z.string().refine(isStorableText, { message: UNSTORABLE_TEXT, abort: true });
}

/** The first field of `fields` that breaks the rule, or null. */
export function unstorableField(fields: Iterable<[string, string]>): string | null {
  for (const [name, value] of fields) {
    if (!isStorableText(value)) return name;
    if (!isStorableText(name)) return "field name";
  }
  return null;
}

/**
 * PostgreSQL's refusal of text it cannot encode (SQLSTATE 22021, 22P05): what a field that
 * escaped the rule would cause. Answered as a 400, not a 500 (routes/_app.tsx).
 */
export function isUnstorableTextError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "22021" || code === "22P05";
}
