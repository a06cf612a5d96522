/**
 * Signatures on the webhooks we send: `X-Hurukuro-Signature: t=<unix seconds>,v1=<hex>`, where
 * `v1` is HMAC-SHA256 under the endpoint's secret over `<t>.<body>`. The timestamp inside the
 * signed text lets a receiver refuse replays of old deliveries (we suggest 5 minutes); `v1`
 * names the scheme so a new one can be added beside it. The same scheme as Stripe's, so
 * receivers can use code they already know.
 *
 * @example
 * const header = await signPayload(secret, body);            // sender
 * const ok = await verifySignature(secret, header, body);    // receiver (tests, docs)
 */
import { hmacHex, timingSafeEqual } from "./tokens.ts";

export const SIGNATURE_HEADER = "X-Hurukuro-Signature";
/** How old a signed timestamp may be for {@link verifySignature}, by default. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** The header value signing `body` at `timestamp` (unix seconds, default now). */
export async function signPayload(
  secret: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
): Promise<string> {
  return `t=${timestamp},v1=${await hmacHex(secret, `${timestamp}.${body}`)}`;
}

/** Whether `header` signs `body` under `secret`, within `toleranceSeconds` of `now`. */
export async function verifySignature(
  secret: string,
  header: string | null | undefined,
  body: string,
  options: { toleranceSeconds?: number; now?: number } = {},
): Promise<boolean> {
  if (!header) return false;
  const parts = new Map<string, string[]>();
  for (const part of header.split(",")) {
    const [k, v] = part.split("=", 2).map((s) => s?.trim());
    if (k && v) parts.set(k, [...(parts.get(k) ?? []), v]);
  }
  const t = Number(parts.get("t")?.[0]);
  if (!Number.isSafeInteger(t)) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS)) return false;
  const expected = await hmacHex(secret, `${t}.${body}`);
  return (parts.get("v1") ?? []).some((v) => timingSafeEqual(v, expected));
}
