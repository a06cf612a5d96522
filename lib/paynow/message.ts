/**
 * The wire form of Paynow messages: `application/x-www-form-urlencoded` bodies whose field
 * order matters (the hash covers values in message order) and whose keys may arrive capitalised
 * from old integrations (`Status=Ok`), so names are matched case-insensitively.
 */
import type { PaynowFields } from "./hash.ts";

export const FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";

/** A decoded message: the ordered fields (for the hash) and a lower-cased lookup (for reading). */
export interface PaynowMessage {
  /** The body as received, kept so callers can record the raw Paynow message. */
  readonly raw: string;
  /** Fields in message order, values URL-decoded (`+` is a space), names as received. */
  readonly fields: PaynowFields;
  /** Lower-cased field name → value; the first occurrence wins. */
  readonly values: Readonly<Record<string, string>>;
}

/** Decodes a form body; tolerant like Paynow's own SDKs (a stray `%` is kept as it is). */
export function parseMessage(body: string | URLSearchParams): PaynowMessage {
  const raw = typeof body === "string" ? body : body.toString();
  const params = typeof body === "string" ? new URLSearchParams(body.replace(/^\?/, "")) : body;
  const fields: Array<readonly [string, string]> = [];
  const values: Record<string, string> = Object.create(null);
  for (const [name, value] of params) {
    fields.push([name, value]);
    const key = name.toLowerCase();
    if (!(key in values)) values[key] = value;
  }
  return { raw, fields, values };
}

/** Encodes fields in their order as a form body (spaces as `+`, everything else escaped). */
export function encodeMessage(fields: PaynowFields): string {
  const params = new URLSearchParams();
  for (const [name, value] of fields) params.append(name, value);
  return params.toString();
}
