/**
 * Personal data at rest: every complainant field and every free text about a grievance is
 * sealed with AES-256-GCM under ENCRYPTION_KEY (lib/security/crypto.ts), bound to its row and
 * column (a sealed phone copied into another row or column does not open there), and stored
 * with the id of the key that sealed it.
 *
 * Exact search by phone or e-mail goes through a **blind index**: HMAC-SHA256 of the normalised
 * value under a key derived from ENCRYPTION_KEY by HKDF with its own label, so the index key is
 * never the encryption key and an index reveals nothing without it. Equal values give equal
 * indexes (that is the point: an exact match), so the index tells that two grievances share a
 * phone, and nothing more.
 *
 * Rotation: with the previous key also given (ENCRYPTION_KEY_PREVIOUS), rows sealed under it
 * still open, and searches look for the index under both keys; `deno task grievances:rekey`
 * re-seals such rows under the current key (docs/grievances.md).
 */
import { decryptSecret, encryptSecret, SecretDecryptError } from "../security/crypto.ts";

export { SecretDecryptError };

const encoder = new TextEncoder();

async function hkdf(key: Uint8Array, label: string, bits = 256): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", key as BufferSource, "HKDF", false, [
    "deriveBits",
  ]);
  const derived = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: encoder.encode("hurukuro") as BufferSource,
      info: encoder.encode(label) as BufferSource,
    },
    base,
    bits,
  );
  return new Uint8Array(derived);
}

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** A key's public id: derived, so it names the key without revealing anything of it. */
export async function keyIdOf(key: Uint8Array): Promise<string> {
  return hex(await hkdf(key, "hurukuro key id v1", 64));
}

/**
 * A phone number in E.164 (`+263771234567`), or null. Spaces, dashes, dots and brackets are
 * forgiven; `00` means `+`; a national number starting with one `0` is read in
 * `defaultCountry` (Zimbabwe's 263 by default: the product's home).
 */
export function normalisePhone(input: string, defaultCountry = "263"): string | null {
  let s = input.trim().replace(/^whatsapp:/i, "").replace(/[\s\-.()]/g, "");
  if (s.startsWith("00")) s = "+" + s.slice(2);
  if (/^0\d{8,10}$/.test(s)) s = `+${defaultCountry}${s.slice(1)}`;
  if (/^\d{10,15}$/.test(s)) s = "+" + s;
  return /^\+[1-9]\d{7,14}$/.test(s) ? s : null;
}

/** An e-mail address as compared: trimmed, lower-cased; null when it is not one. */
export function normaliseEmail(input: string): string | null {
  const s = input.trim().toLowerCase();
  return /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@.]{2,}$/.test(s) && s.length <= 254 ? s : null;
}

export type IndexKind = "phone" | "email";

interface KeyEntry {
  id: string;
  key: Uint8Array;
  index: CryptoKey;
}

export interface Sealer {
  /** The id of the key new values are sealed under. */
  readonly keyId: string;
  /** Seals `value` (null stays null) for `context`, e.g. `grievances.phone:<id>`. */
  seal(value: string | null | undefined, context: string): Promise<string | null>;
  /** Opens a sealed value; throws SecretDecryptError when the key is not held or it was altered. */
  open(sealed: string | null, keyId: string, context: string): Promise<string | null>;
  /** The blind index of a normalised value under the current key. */
  index(kind: IndexKind, normalised: string): Promise<string>;
  /** The indexes to search for: under the current key, then the previous one (rotation). */
  indexes(kind: IndexKind, normalised: string): Promise<string[]>;
  /** Whether rows sealed under `keyId` can be opened here. */
  holds(keyId: string): boolean;
}

async function entryOf(key: Uint8Array): Promise<KeyEntry> {
  const indexKey = await hkdf(key, "hurukuro grievances blind index v1");
  return {
    id: await keyIdOf(key),
    key,
    index: await crypto.subtle.importKey(
      "raw",
      indexKey as BufferSource,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    ),
  };
}

async function hmac(key: CryptoKey, kind: IndexKind, value: string): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", key, encoder.encode(`${kind}:${value}`));
  return hex(new Uint8Array(sig));
}

/**
 * @example
 * const sealer = await createSealer(config.encryptionKey);
 * const stored = await sealer.seal("+263771234567", `grievances.phone:${id}`);
 */
export async function createSealer(current: Uint8Array, previous?: Uint8Array): Promise<Sealer> {
  const now = await entryOf(current);
  const before = previous ? await entryOf(previous) : null;
  const byId = new Map([[now.id, now], ...(before ? [[before.id, before] as const] : [])]);
  return {
    keyId: now.id,
    async seal(value, context) {
      if (value === null || value === undefined) return null;
      return await encryptSecret(now.key, value, context);
    },
    async open(sealed, keyId, context) {
      if (sealed === null) return null;
      const entry = byId.get(keyId);
      if (!entry) throw new SecretDecryptError(`sealed under key ${keyId}, which is not held`);
      return await decryptSecret(entry.key, sealed, context);
    },
    index: (kind, value) => hmac(now.index, kind, value),
    async indexes(kind, value) {
      const all = [await hmac(now.index, kind, value)];
      if (before) all.push(await hmac(before.index, kind, value));
      return all;
    },
    holds: (keyId) => byId.has(keyId),
  };
}

/** The sealing context of a grievance column: binds the ciphertext to its row and column. */
export const contextOf = (column: string, id: string) => `grievances.${column}:${id}`;
