import assert from "node:assert/strict";
import { ACCESS_TOKEN_TTL_SECONDS, signAccessToken, verifyAccessToken } from "./jwt.ts";

const SECRET = "s".repeat(40);

Deno.test("an access token verifies again from memory, but never past its expiry or under another secret", async () => {
  const token = await signAccessToken(SECRET, { sub: "u1", role: "admin" });
  const now = Date.now();
  assert.deepEqual(await verifyAccessToken(SECRET, token, now), { sub: "u1", role: "admin" });
  assert.deepEqual(await verifyAccessToken(SECRET, token, now + 1000), {
    sub: "u1",
    role: "admin",
  });
  const expired = now + (ACCESS_TOKEN_TTL_SECONDS + 5) * 1000;
  assert.equal(await verifyAccessToken(SECRET, token, expired), null, "expired");
  assert.equal(await verifyAccessToken("o".repeat(40), token, now), null, "another secret");
  const [head, body, signature] = token.split(".");
  const forged = `${head}.${body}.${signature.slice(0, -2)}${
    signature.endsWith("AA") ? "BB" : "AA"
  }`;
  assert.equal(await verifyAccessToken(SECRET, forged, now), null, "forged signature");
});
