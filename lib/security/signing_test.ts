/** Webhook signatures: `t=…,v1=…` over `<t>.<body>`, checked in constant time with a tolerance. */
import assert from "node:assert/strict";
import { signPayload, verifySignature } from "./signing.ts";
import { hmacHex } from "./tokens.ts";

Deno.test("a signature is HMAC-SHA256 over timestamp and body, and verifies only as sent", async () => {
  const header = await signPayload("whsec_test", '{"a":1}', 1_700_000_000);
  const expected = await hmacHex("whsec_test", '1700000000.{"a":1}');
  assert.equal(header, `t=1700000000,v1=${expected}`);
  const now = 1_700_000_010;
  assert.equal(await verifySignature("whsec_test", header, '{"a":1}', { now }), true);
  assert.equal(await verifySignature("whsec_test", header, '{"a":2}', { now }), false);
  assert.equal(await verifySignature("other", header, '{"a":1}', { now }), false);
  assert.equal(
    await verifySignature("whsec_test", header, '{"a":1}', { now: now + 600 }),
    false,
    "too old",
  );
  assert.equal(await verifySignature("whsec_test", "v1=abc", '{"a":1}', { now }), false);
  assert.equal(await verifySignature("whsec_test", null, '{"a":1}', { now }), false);
});
