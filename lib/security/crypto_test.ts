import assert from "node:assert/strict";
import { decryptSecret, encryptSecret, SecretDecryptError } from "./crypto.ts";

const key = crypto.getRandomValues(new Uint8Array(32));

Deno.test("a secret round-trips and never appears in its stored form", async () => {
  const secret = "sk-live-0123456789abcdef-ñ-✓";
  const stored = await encryptSecret(key, secret, "ai_configs.api_key");
  assert.match(stored, /^v1\.[\w-]{16}\.[\w-]+$/);
  assert.ok(!stored.includes(secret));
  assert.ok(!stored.includes(btoa("sk-live")));
  assert.equal(await decryptSecret(key, stored, "ai_configs.api_key"), secret);
});

Deno.test("each encryption uses a fresh IV", async () => {
  const a = await encryptSecret(key, "same");
  const b = await encryptSecret(key, "same");
  assert.notEqual(a, b);
  assert.notEqual(a.split(".")[1], b.split(".")[1]);
});

Deno.test("the wrong key, another context, an altered value or a bad format fail", async () => {
  const stored = await encryptSecret(key, "secret", "ctx");
  const other = crypto.getRandomValues(new Uint8Array(32));
  await assert.rejects(decryptSecret(other, stored, "ctx"), SecretDecryptError);
  await assert.rejects(decryptSecret(key, stored, "another"), SecretDecryptError);
  const [v, iv, body] = stored.split(".");
  const flipped = body.slice(0, -2) + (body.at(-2) === "A" ? "B" : "A") + body.at(-1);
  await assert.rejects(decryptSecret(key, `${v}.${iv}.${flipped}`, "ctx"), SecretDecryptError);
  await assert.rejects(decryptSecret(key, `v9.${iv}.${body}`, "ctx"), SecretDecryptError);
  await assert.rejects(decryptSecret(key, "plain text", "ctx"), SecretDecryptError);
});

Deno.test("a key that is not 32 bytes is refused", async () => {
  await assert.rejects(encryptSecret(new Uint8Array(16), "x"), /32 bytes/);
});
