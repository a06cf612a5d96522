/**
 * Masking of personal data (phone numbers, e-mail addresses) before anything is logged.
 *
 * Every log line passes through {@link maskDeep}, so a phone number or e-mail that slips into a
 * message, a field or an error text is masked too, not only the fields we remember to mask.
 */

const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*(\.[A-Za-z]{2,})/g;
// A phone number: optional "+", 9 to 15 digits, possibly grouped by spaces or dashes. Word
// boundaries keep long identifiers that merely contain digits (hex ids, UUIDs) intact.
const PHONE = /(?<![\w.+-])\+?\d(?:[ -]?\d){8,14}(?![\w])/g;

/** `tendai@example.com` → `t***@e***.com` */
export function maskEmail(text: string): string {
  return text.replace(
    EMAIL,
    (_m, first, domainFirst, tld) => `${first}***@${domainFirst}***${tld}`,
  );
}

/** `+263771234567` → `+26377*****67`: country and network stay readable for debugging. */
export function maskPhone(text: string): string {
  return text.replace(PHONE, (match) => {
    const digits = match.replace(/\D/g, "");
    const plus = match.startsWith("+") ? "+" : "";
    const keepHead = Math.min(5, digits.length - 6);
    return plus + digits.slice(0, keepHead) + "*".repeat(digits.length - keepHead - 2) +
      digits.slice(-2);
  });
}

/** At least `n` ASCII digits in `text`: fewer cannot make a phone number. */
function hasDigits(text: string, n: number): boolean {
  for (let i = 0, seen = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 48 && code <= 57 && ++seen >= n) return true;
  }
  return false;
}

/**
 * Masks phones and e-mails in a string. Most strings logged hold neither an `@` nor nine digits
 * (every request's path and id are logged), and skip both patterns.
 */
export function maskText(text: string): string {
  const masked = text.includes("@") ? maskEmail(text) : text;
  return hasDigits(masked, 9) ? maskPhone(masked) : masked;
}

/** Masks every string inside a JSON-like value (objects, arrays, errors). */
export function maskDeep(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return maskText(value);
  if (value === null || typeof value !== "object" || depth > 8) return value;
  if (value instanceof Error) {
    return { name: value.name, message: maskText(value.message) };
  }
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k in value) {
    if (Object.hasOwn(value, k)) {
      out[k] = maskDeep((value as Record<string, unknown>)[k], depth + 1);
    }
  }
  return out;
}
