import assert from "node:assert/strict";
import { parseZimbabweMobile } from "./phone.ts";

Deno.test("every accepted Zimbabwean format normalises to E.164 and Paynow's local form", () => {
  for (
    const input of [
      "0771234567",
      "+263771234567",
      "263771234567",
      " 077 123 4567 ",
      "077-123-4567",
      "+263 77 123 4567",
      "(077) 123.4567",
    ]
  ) {
    const result = parseZimbabweMobile(input);
    assert.deepEqual(
      result,
      { ok: true, e164: "+263771234567", local: "0771234567", network: "econet" },
      input,
    );
  }
});

Deno.test("the network follows the prefix", () => {
  const network = (n: string) => {
    const r = parseZimbabweMobile(n);
    return r.ok ? r.network : r.message;
  };
  assert.equal(network("0712345678"), "netone");
  assert.equal(network("0732345678"), "telecel");
  assert.equal(network("0782345678"), "econet");
});

Deno.test("non-mobile, foreign and wrong-length numbers are refused with a message to act on", () => {
  const cases: Array<[string, RegExp]> = [
    ["", /Enter a phone number/],
    ["077123456", /10 digits.*got 9/],
    ["07712345678", /10 digits.*got 11/],
    ["+26377123456", /10 digits.*got 9/],
    ["0242123456", /not a mobile number/],
    ["+263242123456", /not a mobile number/],
    ["0751234567", /075 is not a mobile network prefix/],
    ["+2630771234567", /Drop the 0 after the country code/],
    ["+27821234567", /Only Zimbabwean mobile numbers/],
    ["771234567", /Only Zimbabwean mobile numbers/],
    ["077 123 45a7", /only digits/],
  ];
  for (const [input, message] of cases) {
    const result = parseZimbabweMobile(input);
    assert.equal(result.ok, false, input);
    if (!result.ok) assert.match(result.message, message, input);
  }
});
