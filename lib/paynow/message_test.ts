import assert from "node:assert/strict";
import { encodeMessage, parseMessage } from "./message.ts";

Deno.test("parseMessage keeps field order, decodes values and reads names case-insensitively", () => {
  const body =
    "Status=Ok&BrowserUrl=https%3a%2f%2fpay.example%2fp%3fguid%3d1&pollurl=x&status=Late" +
    "&info=two+words%20here&hash=AB";
  const message = parseMessage(body);
  assert.deepEqual(message.fields.map(([n]) => n), [
    "Status",
    "BrowserUrl",
    "pollurl",
    "status",
    "info",
    "hash",
  ]);
  assert.equal(message.values.status, "Ok", "the first occurrence wins");
  assert.equal(message.values.browserurl, "https://pay.example/p?guid=1");
  assert.equal(message.values.info, "two words here");
  assert.equal(message.raw, body);
});

Deno.test("encodeMessage and parseMessage round-trip awkward values in order", () => {
  const fields: Array<[string, string]> = [
    ["reference", "A&B=C+D %41 ?#"],
    ["additionalinfo", "Tokens — 500 ✓ 😀"],
    ["empty", ""],
  ];
  const body = encodeMessage(fields);
  assert.ok(!body.includes(" "), body);
  assert.deepEqual(parseMessage(body).fields, fields);
});

Deno.test("parseMessage tolerates a stray percent sign and a leading question mark", () => {
  assert.equal(parseMessage("?a=100%&b=%zz").values.a, "100%");
  assert.equal(parseMessage("?a=100%&b=%zz").values.b, "%zz");
});
