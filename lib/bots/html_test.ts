import assert from "node:assert/strict";
import { htmlToText } from "./html.ts";

Deno.test("headings become markdown headings and title a page without a <title>", () => {
  const page = htmlToText("<h2>Opening hours</h2><p>Mon to Fri</p>");
  assert.match(page.text, /^## Opening hours$/m);
  assert.match(page.text, /Mon to Fri/);
  assert.equal(page.title, "Opening hours");
});

Deno.test("a tag named like an inherited property (<constructor>) is no heading", () => {
  const page = htmlToText("<constructor>Not a heading</constructor><p>Body</p>");
  assert.match(page.text, /Not a heading/);
  assert.notEqual(page.title, "Not a heading");
});
