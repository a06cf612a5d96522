import assert from "node:assert/strict";
import {
  isStorableText,
  isUnstorableTextError,
  textField,
  UNSTORABLE_TEXT,
  unstorableField,
} from "./text.ts";

Deno.test("NUL and unpaired surrogates are refused; every other character is kept", () => {
  for (const bad of ["\u0000", "a\u0000", "\ud800", "x\udfffy", "\udc00\ud800"]) {
    assert.equal(isStorableText(bad), false, JSON.stringify(bad));
  }
  for (
    const good of [
      "",
      "plain",
      "zero\u200bwidth",
      "\u202eright-to-left",
      "emoji 😀",
      "\ud83d\ude00",
    ]
  ) {
    assert.equal(isStorableText(good), true, JSON.stringify(good));
  }
});

Deno.test("textField refuses before its other checks and keeps them", () => {
  const field = textField().trim().min(1).max(5);
  assert.equal(field.parse("  ok "), "ok");
  const nul = field.safeParse("a\u0000b");
  assert.equal(nul.success, false);
  assert.deepEqual(nul.error!.issues.map((i) => i.message), [UNSTORABLE_TEXT]);
  assert.equal(field.safeParse("toolong").success, false);
});

Deno.test("unstorableField names the first field that breaks the rule", () => {
  assert.equal(unstorableField([["a", "ok"], ["b", "x\u0000"], ["c", "\ud800"]]), "b");
  assert.equal(unstorableField([["a\u0000", "ok"]]), "field name");
  assert.equal(unstorableField(new URLSearchParams("a=1&b=%00")), "b");
  assert.equal(unstorableField([["a", "ok"]]), null);
});

Deno.test("PostgreSQL's encoding refusals are recognised", () => {
  assert.equal(isUnstorableTextError({ code: "22021" }), true);
  assert.equal(isUnstorableTextError({ code: "22P05" }), true);
  assert.equal(isUnstorableTextError({ code: "23505" }), false);
  assert.equal(isUnstorableTextError(null), false);
});
