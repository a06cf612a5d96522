import assert from "node:assert/strict";
import { parseTelegramHtml } from "../sandbox/telegram.ts";
import { toEmail, toPlainText, toSlack, toTelegramHtml, toWhatsApp, truncate } from "./render.ts";

const MESSAGE = [
  "# Payment failed",
  "",
  "**HK12** for *Tendai* <script>alert(1)</script> & co: [the admin](https://x.test/a?b=1&c=2)",
  "",
  "- one",
  "- two `code`",
  "",
  "1. first",
  "2. second",
  "",
  "> quoted",
  "",
  "```",
  "a < b",
  "```",
].join("\n");

Deno.test("Slack mrkdwn: its marks, its three escapes, <url|text> links", () => {
  const out = toSlack("Alert", MESSAGE);
  assert.match(out, /^\*Alert\*\n\n\*Payment failed\*\n\n\*HK12\* for _Tendai_/);
  assert.match(out, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; co/);
  assert.match(out, /<https:\/\/x\.test\/a\?b=1&amp;c=2\|the admin>/);
  assert.match(out, /• one\n• two `code`\n\n1\. first\n2\. second/);
  assert.match(out, /> quoted/);
  assert.match(out, /```\na &lt; b\n```/);
});

Deno.test("Telegram HTML: only the tags Telegram parses, and it parses them", () => {
  const out = toTelegramHtml("Alert <1>", MESSAGE);
  assert.match(out, /^<b>Alert &lt;1&gt;<\/b>/);
  assert.match(out, /<b>HK12<\/b> for <i>Tendai<\/i> &lt;script&gt;/);
  assert.match(out, /<a href="https:\/\/x\.test\/a\?b=1&amp;c=2">the admin<\/a>/);
  assert.match(out, /<blockquote>quoted<\/blockquote>/);
  const parsed = parseTelegramHtml(out);
  assert.ok("text" in parsed, JSON.stringify(parsed));
  assert.match(parsed.text, /<script>alert\(1\)<\/script> & co/);
});

Deno.test("strong, emphasis and strike marks, nested, in each dialect", () => {
  const text = "**a _b ~~c~~_**";
  assert.equal(toSlack(null, text), "*a _b ~c~_*");
  assert.equal(toTelegramHtml(null, text), "<b>a <i>b <s>c</s></i></b>");
  assert.equal(toWhatsApp(null, text), "*a _b ~c~_*");
  assert.equal(toPlainText(null, text), "a b c");
});

Deno.test("WhatsApp and plain text: readable without markup", () => {
  assert.match(toWhatsApp(null, MESSAGE), /\*HK12\* for _Tendai_ <script>/);
  assert.match(toWhatsApp(null, MESSAGE), /the admin \(https:\/\/x\.test\/a\?b=1&c=2\)/);
  const plain = toPlainText("Alert", MESSAGE);
  assert.match(plain, /^Alert\n\nPayment failed\n\nHK12 for Tendai <script>/);
  assert.match(plain, /- one\n- two code/);
});

Deno.test("e-mail: safe HTML (no raw tags) beside the plain text", () => {
  const mail = toEmail("Alert <b>", MESSAGE);
  assert.match(mail.html, /<h2>Alert &lt;b&gt;<\/h2>/);
  assert.match(mail.html, /<strong>HK12<\/strong>/);
  assert.doesNotMatch(mail.html, /<script>/);
  assert.match(mail.text, /HK12 for Tendai/);
});

Deno.test("truncate marks the cut and keeps the limit", () => {
  assert.equal(truncate("abcdef", 4), "abc…");
  assert.equal(truncate("abc", 4), "abc");
});
