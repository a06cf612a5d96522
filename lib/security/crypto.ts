/**
 * Secrets encrypted at rest (provider API keys, personal data): AES-256-GCM through WebCrypto
 * under `ENCRYPTION_KEY`. Each value gets a fresh random 96-bit IV; GCM's tag makes tampering
 * (or the wrong key) fail loudly rather than decrypt to garbage.
 *
 * Stored format, versioned so the scheme can change without guessing: `v1.<iv b64url>.<ciphertext
 * with tag, b64url>`. An optional `context` (e.g. the row's purpose) is bound as additional data:
 * a value copied into another column does not decrypt there.
 *
 * @example
 * const stored = await encryptSecret(config.encryptionKey, "sk-…", "ai_configs.api_key");
 * const key = await decryptSecret(config.encryptionKey, stored, "ai_configs.api_key");
 */

const VERSION = "v1";
const IV_BYTES = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Raised when a stored secret cannot be decrypted: wrong key, altered value, unknown format. */
export class SecretDecryptError extends Error {
  override name = "SecretDecryptError";
}

const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function importKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) throw new Error("the encryption key must be 32 bytes (AES-256)");
  let key = keys.get(raw);
  if (!key) {
    key = crypto.subtle.importKey("raw", raw as BufferSource, "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    keys.set(raw, key);
  }
  return key;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") +
    "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function params(iv: Uint8Array, context: string): AesGcmParams {
  return {
    name: "AES-GCM",
    iv: iv as BufferSource,
    ...(context ? { additionalData: encoder.encode(context) as BufferSource } : {}),
  };
}

/** Encrypts `plaintext` under the 32-byte `key`; the result is safe to store as text. */
export async function encryptSecret(
  key: Uint8Array,
  plaintext: string,
  context = "",
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    params(iv, context),
    await importKey(key),
    encoder.encode(plaintext) as BufferSource,
  );
  return `${VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

/** Decrypts a value made by {@link encryptSecret}; throws {@link SecretDecryptError}. */
export async function decryptSecret(
  key: Uint8Array,
  stored: string,
  context = "",
): Promise<string> {
  const parts = stored.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) {
    throw new SecretDecryptError("the stored secret has an unknown format");
  }
  let iv: Uint8Array, sealed: Uint8Array;
  try {
    iv = fromBase64Url(parts[1]);
    sealed = fromBase64Url(parts[2]);
  } catch {
    throw new SecretDecryptError("the stored secret is not valid base64");
  }
  if (iv.length !== IV_BYTES) throw new SecretDecryptError("the stored secret has a bad IV");
  try {
    const plain = await crypto.subtle.decrypt(
      params(iv, context),
      await importKey(key),
      sealed as BufferSource,
    );
    return decoder.decode(plain);
  } catch {
    throw new SecretDecryptError(
      "the stored secret does not decrypt under ENCRYPTION_KEY (wrong key or altered value)",
    );
  }
}
