import assert from "node:assert/strict";
import { commandOf } from "./mod.ts";

const said = (text: string) => commandOf({ kind: "text", text });

Deno.test("commands are known words, however written; other words are no command", () => {
  assert.equal(said("Main  Menu!"), "menu");
  assert.equal(said("TOP UP"), "buy");
  assert.equal(said("new chat"), "reset");
  assert.equal(commandOf({ kind: "choice", id: "menu:main", title: "Menu" }), "menu");
  // Names an object inherits are not commands (a user typing "constructor" stays in the chat).
  for (const word of ["constructor", "Constructor", "__proto__", "tostring", "hello"]) {
    assert.equal(said(word), undefined, word);
  }
});
