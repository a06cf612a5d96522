import assert from "node:assert/strict";
import { storable, storableText } from "./storable.ts";

Deno.test("NUL and lone surrogates become U+FFFD; pairs and clean text are kept as they are", () => {
  assert.equal(storableText("a\u0000b\u0000"), "a\ufffdb\ufffd");
  assert.equal(storableText("x\ud800y\udc00z"), "x\ufffdy\ufffdz");
  assert.equal(storableText("\ud83d\ude00 ok"), "\ud83d\ude00 ok");
  const clean = "plain text";
  assert.equal(storableText(clean), clean);
});

Deno.test("storable cleans every string of a JSON-like value, keys included, and keeps clean ones", () => {
  const clean = { a: ["b", { c: 1, d: null, e: true }] };
  assert.equal(storable(clean), clean, "nothing to clean: the same object");
  assert.deepEqual(storable({ "k\u0000": ["ok", { t: "\udc00" }], n: 2 }), {
    "k\ufffd": ["ok", { t: "\ufffd" }],
    n: 2,
  });
});
