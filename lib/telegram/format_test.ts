import assert from "node:assert/strict";
import fc from "fast-check";
import { parseTelegramHtml } from "../sandbox/telegram.ts";
import { mainMenu, text } from "../whatsapp/bot/flows/menu.ts";
import { telegramHtmlToPlain, telegramMessages, whatsAppToTelegramHtml } from "./format.ts";

Deno.test("WhatsApp marks become Telegram HTML; everything else is escaped", () => {
  assert.equal(
    whatsAppToTelegramHtml("*Chat* 💬 _maybe_ ~no~ `a<b` & <i>"),
    "<b>Chat</b> 💬 <i>maybe</i> <s>no</s> <code>a&lt;b</code> &amp; &lt;i&gt;",
  );
  assert.equal(whatsAppToTelegramHtml("```\nx = *y*\n```"), "<pre>x = *y*</pre>");
  // Marks inside words, unpaired or around spaces stay as they are.
  assert.equal(
    whatsAppToTelegramHtml("snake_case_name 2*3*4 * a *"),
    "snake_case_name 2*3*4 * a *",
  );
  assert.equal(
    whatsAppToTelegramHtml("_(It's been a while.)_\n\nSend *reset*"),
    "<i>(It's been a while.)</i>\n\nSend <b>reset</b>",
  );
});

Deno.test("whatever the text, Telegram can parse the HTML and shows the words", () => {
  const marked = fc.stringMatching(/^[*_~`a-z <>&\n]{0,60}$/);
  fc.assert(
    fc.property(fc.oneof(marked, fc.string({ unit: "grapheme", maxLength: 80 })), (source) => {
      const html = whatsAppToTelegramHtml(source);
      const parsed = parseTelegramHtml(html);
      assert.ok("text" in parsed, `${JSON.stringify(source)} → ${html}: ${JSON.stringify(parsed)}`);
      assert.equal(parsed.text, telegramHtmlToPlain(html));
      assert.ok(parsed.text.length <= source.length);
      // Only marks are dropped: the letters read the same.
      const letters = (s: string) => s.replace(/[*_~`\s]/g, "");
      assert.equal(letters(parsed.text), letters(source));
    }),
    { numRuns: 500 },
  );
});

Deno.test("menus become a one-time keyboard; long texts several messages", () => {
  const [menu] = telegramMessages([mainMenu("Choose:")]);
  assert.match(menu.text, /^Choose:\n\n1\. Chat — /);
  const keys = (menu.reply_markup!.keyboard as { text: string }[][]).flat().map((k) => k.text);
  assert.deepEqual(keys.slice(0, 2), ["Chat", "Essay"]);
  assert.equal(menu.reply_markup!.one_time_keyboard, true);

  const long = telegramMessages([text("word ".repeat(2_000))]);
  assert.equal(long.length, 3);
  assert.ok(long.every((m) => m.text.length <= 4096 && m.parse_mode === "HTML"));
});
