/** Each method's settings: what passes, what is refused, and the masked recipient it logs. */
import assert from "node:assert/strict";
import { METHOD_MODULES } from "./mod.ts";
import { signPayload } from "../../security/signing.ts";
import { hmacHex } from "../../security/tokens.ts";

const parse = (method: keyof typeof METHOD_MODULES, settings: unknown) =>
  METHOD_MODULES[method].settings.safeParse(settings);

Deno.test("settings: each method's schema is strict and names what is wrong", () => {
  assert.ok(parse("email", { to: ["a@example.com"], subject: "Hi" }).success);
  assert.ok(!parse("email", { to: [], subject: "Hi" }).success);
  assert.ok(!parse("email", { to: ["a@example.com"], subject: "Hi", bcc: "x" }).success);
  assert.ok(parse("slack", { channel: "#alerts" }).success);
  assert.ok(parse("slack", { channel: "C0123ABCD" }).success);
  assert.ok(!parse("slack", { channel: "alerts" }).success);
  assert.ok(parse("telegram", { chat_id: -1001234567890 }).success);
  assert.ok(parse("telegram", { chat_id: "@hurukuro_ops" }).success);
  assert.ok(!parse("telegram", { chat_id: "me" }).success);
  assert.ok(parse("whatsapp", { numbers: ["+263771234567"] }).success);
  assert.ok(
    parse("whatsapp", { numbers: ["+263771234567"], template: { name: "ops_alert" } }).success,
  );
  assert.ok(!parse("whatsapp", { numbers: ["0771234567"] }).success);
  assert.ok(parse("webhook", { url: "https://hooks.example.com/x" }).success);
  assert.ok(!parse("webhook", { url: "ftp://hooks.example.com/x" }).success);
  assert.ok(!parse("webhook", { url: "https://x.test/\u0000" }).success);
});

Deno.test("recipients are masked for the log", () => {
  assert.equal(
    METHOD_MODULES.email.recipient({ to: ["tendai@example.com", "b@example.com"], subject: "x" }),
    "t***@e***.com and 1 more",
  );
  assert.equal(
    METHOD_MODULES.whatsapp.recipient({ numbers: ["+263771234567"] }),
    "+26377*****67",
  );
  assert.equal(METHOD_MODULES.telegram.recipient({ chat_id: "-1001234567890" }), "-100***90");
  assert.equal(
    METHOD_MODULES.webhook.recipient({ url: "https://hooks.example.com/a/secret-path?k=v" }),
    "https://hooks.example.com/…",
  );
});

Deno.test("the webhook signature is HMAC-SHA256 over `<t>.<body>`", async () => {
  const header = await signPayload("s3cret", '{"a":1}', 1700000000);
  assert.equal(header, `t=1700000000,v1=${await hmacHex("s3cret", '1700000000.{"a":1}')}`);
});
