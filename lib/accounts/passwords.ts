/**
 * Password hashing with argon2id (npm `hash-wasm`: pure WebAssembly, no native build), at the
 * OWASP-recommended cost (19 MiB, 2 passes, 1 lane).
 */
import { argon2id, argon2Verify } from "hash-wasm";

export const MIN_PASSWORD_LENGTH = 8;

export async function hashPassword(password: string): Promise<string> {
  return await argon2id({
    password: password.normalize("NFKC"),
    salt: crypto.getRandomValues(new Uint8Array(16)),
    parallelism: 1,
    iterations: 2,
    memorySize: 19_456,
    hashLength: 32,
    outputType: "encoded",
  });
}

/** A hash of nothing anyone knows: verified against when the account does not exist, so a
 * wrong e-mail costs the same time as a wrong password. */
let dummy: Promise<string> | undefined;

export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  const target = hash ?? await (dummy ??= hashPassword(crypto.randomUUID()));
  const candidate = password.normalize("NFKC");
  // hash-wasm refuses an empty password; verifying a space instead costs the same time and can
  // never match (passwords are at least MIN_PASSWORD_LENGTH long).
  const ok = await argon2Verify({ password: candidate || " ", hash: target });
  return ok && hash !== null && candidate !== "";
}
