import assert from "node:assert/strict";
import { maskDeep, maskEmail, maskPhone } from "./mask.ts";

Deno.test("maskEmail keeps only the first letters and the top-level domain", () => {
  assert.equal(maskEmail("write to tendai.moyo@example.co.zw now"), "write to t***@e***.zw now");
});

Deno.test("maskPhone masks every Zimbabwean format but keeps country and network", () => {
  assert.equal(maskPhone("+263771234567"), "+26377*****67");
  assert.equal(maskPhone("whatsapp:+263771234567"), "whatsapp:+26377*****67");
  assert.equal(maskPhone("call 0771234567."), "call 0771****67.");
  assert.equal(maskPhone("263 77 123 4567"), "26377*****67");
});

Deno.test("maskPhone leaves identifiers, ISO timestamps and small numbers alone", () => {
  const id = "9b2f4c1e-0d3a-4e8b-9f1c-2a3b4c5d6e7f";
  assert.equal(maskPhone(id), id);
  assert.equal(maskPhone("2026-11-23T19:05:55.123Z"), "2026-11-23T19:05:55.123Z");
  assert.equal(maskPhone("took 1234 ms"), "took 1234 ms");
});

Deno.test("maskDeep masks nested strings and error messages", () => {
  const masked = JSON.stringify(maskDeep({
    user: { phone: "+263771234567", emails: ["a.b@c.com"] },
    error: new Error("no account for 0771234567"),
  }));
  assert.ok(!masked.includes("771234567"), masked);
  assert.ok(!masked.includes("a.b@c.com"), masked);
});
