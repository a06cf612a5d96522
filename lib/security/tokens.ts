/**
 * Random tokens and their stored form. Secrets we hand out (refresh tokens, API keys, session
 * cookies, reset links) are 32 random bytes; only their SHA-256 is stored, so a database dump
 * gives nobody a usable credential. SHA-256 (not a slow hash) is right here: the input is
 * high-entropy, so there is nothing to brute-force.
 */
import { createHash } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A URL-safe random string of `length` base62 characters (≈ 5.95 bits each). */
export function randomToken(length = 43): string {
  const out: string[] = [];
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out.push(ALPHABET[byte % 62]); // no modulo bias
    }
  }
  return out.join("");
}

/**
 * SHA-256 of `text`, hex. Hashed in this thread (node:crypto): a key or session is hashed on
 * every request it makes, and WebCrypto's `digest` round trip costs many times the hash itself.
 */
export function sha256Hex(text: string): Promise<string> {
  return Promise.resolve(createHash("sha256").update(text).digest("hex"));
}

/** Compares two strings in time that depends only on their length. */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** HMAC-SHA256 of `message` under `secret`, hex. */
export async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message));
  return Array.from(new Uint8Array(sig), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A random 6-digit code, uniformly drawn. */
export function randomDigits(length = 6): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 250 && out.length < length) out += String(byte % 10);
    }
  }
  return out;
}
