/**
 * Inbound text made storable. PostgreSQL refuses a NUL character in `text` and in `jsonb`, and a
 * lone UTF-16 surrogate in `jsonb` (it cannot be encoded as UTF-8): either would fail the
 * statement that stores a webhook delivery, and every delivery written with it. Users and
 * providers can send both, so inbound text is cleaned where it is parsed, and everything the
 * webhook writes is cleaned again before it goes to the database (docs/security.md, "WhatsApp").
 */

/** Both replaced by U+FFFD, the character Unicode reserves for "something was here". */
export const REPLACEMENT = "\ufffd";

/** `text` with NUL and lone surrogates replaced by U+FFFD; otherwise the very same string. */
export function storableText(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return wellFormed.includes("\u0000") ? wellFormed.replaceAll("\u0000", REPLACEMENT) : wellFormed;
}

/**
 * A JSON-like value with every string in it (object keys included) made storable. Values that
 * are already clean are returned as they are, so the common case allocates nothing.
 */
export function storable<T>(value: T): T {
  return clean(value) as T;
}

function clean(value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const cleaned = clean(item);
      if (cleaned !== item) (out ??= [...value])[i] = cleaned;
    });
    return out ?? value;
  }
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    let changed = false;
    const entries = Object.entries(value).map(([key, item]) => {
      const k = storableText(key);
      const v = clean(item);
      if (k !== key || v !== item) changed = true;
      return [k, v];
    });
    return changed ? Object.fromEntries(entries) : value;
  }
  return value;
}
