/**
 * The HMAC plumbing both providers' webhook signatures need, on WebCrypto (no npm dependency).
 *
 * Keys are imported once per secret and kept: `importKey` costs more than the HMAC of a typical
 * webhook, and every delivery needs one.
 */

type Hash = "SHA-1" | "SHA-256";

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();
/** Secrets rotate rarely; the bound only stops a misuse (a secret per request) from leaking. */
const MAX_CACHED_KEYS = 32;

function hmacKey(hash: Hash, secret: string): Promise<CryptoKey> {
  const cacheKey = `${hash}\u0000${secret}`;
  let key = keys.get(cacheKey);
  if (!key) {
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash }, false, [
      "sign",
    ]);
    keys.set(cacheKey, key);
  }
  return key;
}

/** HMAC of `data` (UTF-8 if a string) keyed with the UTF-8 bytes of `secret`. */
export async function hmac(
  hash: Hash,
  secret: string,
  data: Uint8Array | string,
): Promise<Uint8Array> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const key = await hmacKey(hash, secret);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes as Uint8Array<ArrayBuffer>));
}

/** SHA-256 digest of `data`. */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
}

/**
 * Compares two byte strings in time that depends only on their lengths, so an attacker cannot
 * find a valid signature byte by byte. Lengths are public (fixed by the algorithm).
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Hex (either case) to bytes; null if it is not an even-length hex string. */
export function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
