/**
 * Paynow's message hash, used in both directions.
 *
 * The rule: the values of every field except `hash`, URL-decoded, in the order they appear in
 * the message, joined with no separator; then the integration key; SHA-512 of the UTF-8 bytes as
 * upper-case hex. Because order matters, a message is a list of pairs, never a plain object.
 *
 * The key is lower-cased before it is appended, as the official Node and Python SDKs do (the PHP
 * SDK appends it unchanged). Paynow issues keys as lower-case GUIDs, so the SDKs agree in practice
 * and lower-casing only rescues a key pasted in upper case. The docs' worked example (a lower-case
 * key) is the test that pins the rest of the rule.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** A Paynow message's fields in message order, values URL-decoded. Names keep their casing. */
export type PaynowFields = ReadonlyArray<readonly [name: string, value: string]>;

const isHashField = (name: string) => name.toLowerCase() === "hash";

/** The hash of a message: every field except `hash` counts, in order. */
export function paynowHash(fields: PaynowFields, integrationKey: string): string {
  let text = "";
  for (const [name, value] of fields) if (!isHashField(name)) text += value;
  text += integrationKey.toLowerCase();
  return createHash("sha512").update(text, "utf8").digest("hex").toUpperCase();
}

/** The fields with a `hash` field appended (any `hash` already present is dropped first). */
export function signFields(fields: PaynowFields, integrationKey: string): PaynowFields {
  const unsigned = fields.filter(([name]) => !isHashField(name));
  return [...unsigned, ["hash", paynowHash(unsigned, integrationKey)]];
}

/**
 * Whether the message carries exactly one `hash` field and it matches, compared in constant
 * time so that a forger cannot learn the right hash byte by byte from our response times.
 */
export function verifyPaynowHash(fields: PaynowFields, integrationKey: string): boolean {
  const received = fields.filter(([name]) => isHashField(name));
  if (received.length !== 1) return false;
  const expected = new TextEncoder().encode(paynowHash(fields, integrationKey));
  const actual = new TextEncoder().encode(received[0][1].trim().toUpperCase());
  // The length of a SHA-512 hex digest is public; only the content must not leak.
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
