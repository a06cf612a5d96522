import assert from "node:assert/strict";
import { e164 } from "./http.ts";
import { fromHex, timingSafeEqual, toBase64, toHex } from "./crypto.ts";

Deno.test("every phone notation the providers use becomes E.164 with a plus", () => {
  assert.equal(e164("263771234567"), "+263771234567");
  assert.equal(e164("whatsapp:+263771234567"), "+263771234567");
  assert.equal(e164("WhatsApp:+263 77 123-4567"), "+263771234567");
  assert.equal(e164(""), "");
  assert.equal(e164(undefined), "");
});

Deno.test("hex and base64 encodings round-trip and bad hex is refused", () => {
  const bytes = new Uint8Array([0, 1, 127, 128, 255]);
  assert.equal(toHex(bytes), "00017f80ff");
  assert.deepEqual(fromHex("00017F80ff"), bytes);
  assert.equal(fromHex("abc"), null);
  assert.equal(fromHex("zz"), null);
  assert.equal(toBase64(bytes), btoa(String.fromCharCode(...bytes)));
});

Deno.test("the constant-time comparison tells equal from unequal bytes", () => {
  assert.equal(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assert.equal(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
  assert.equal(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])), false);
});

Deno.test("the factory builds the provider WHATSAPP_PROVIDER names", async () => {
  const { createWhatsAppProvider } = await import("./mod.ts");
  const meta = createWhatsAppProvider({
    provider: "meta",
    accessToken: "t",
    appSecret: "s",
    phoneNumberId: "1",
  });
  const twilio = createWhatsAppProvider({
    provider: "twilio",
    accountSid: "AC1",
    authToken: "t",
    from: "+14155238886",
  });
  assert.deepEqual([meta.name, meta.textLimit, meta.interactive], ["meta", 4096, true]);
  assert.deepEqual([twilio.name, twilio.textLimit, twilio.interactive], ["twilio", 1600, false]);
  assert.throws(
    () =>
      createWhatsAppProvider({
        provider: "meta",
        accessToken: "",
        appSecret: "s",
        phoneNumberId: "1",
      }),
    /accessToken is required/,
  );
});
