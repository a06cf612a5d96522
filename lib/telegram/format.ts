/**
 * The conversation's messages as Telegram shows them. The flows are the WhatsApp bot's
 * (lib/whatsapp/bot): they write WhatsApp's marks (`*bold*`, `_italic_`, `~strike~`,
 * `` `code` ``, ```` ``` ```` blocks) and offer choices as reply buttons or a list. Here:
 *
 * - marks become Telegram's HTML (`parse_mode: "HTML"`), everything else escaped, so a user's
 *   `<` or `&` quoted back never breaks the parse. A tag only ever wraps plain text, and code is
 *   never formatted inside, so the HTML is well nested by construction;
 * - choices become a one-time reply keyboard (a tap sends the title as a message, which the
 *   flows match like a typed answer), a list also as numbered lines;
 * - texts over Telegram's 4,096 characters are split into several messages first.
 */
import { type Menu, renderNumberedMenu } from "../whatsapp/menu.ts";
import { splitMessage } from "../whatsapp/format.ts";
import type { Outgoing } from "../whatsapp/outbox.ts";
import { TELEGRAM_TEXT_LIMIT } from "./client.ts";
import type { OutboundMessage } from "./model.ts";

const escapeHtml = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** WhatsApp's emphasis marks and the tag each becomes. */
const MARKS: [string, string][] = [["*", "b"], ["_", "i"], ["~", "s"]];

/**
 * A mark's span: the mark, then text that neither starts nor ends with a space and holds no
 * newline, no tag and no mark of its kind, then the mark; not inside a word on either side.
 */
const markPattern = (mark: string) => {
  const m = mark === "*" ? "\\*" : mark; // only `*` is special outside a class
  return new RegExp(
    `(?<![\\p{L}\\p{N}${mark}])${m}([^\\s${mark}<>](?:[^\\n${mark}<>]*[^\\s${mark}<>])?)${m}` +
      `(?![\\p{L}\\p{N}${mark}])`,
    "gu",
  );
};
const MARK_PATTERNS = MARKS.map(([mark, tag]) => [markPattern(mark), tag] as const);

/** Emphasis in one stretch of text without code. */
function emphasis(text: string): string {
  let out = escapeHtml(text);
  for (const [pattern, tag] of MARK_PATTERNS) out = out.replace(pattern, `<${tag}>$1</${tag}>`);
  return out;
}

/** WhatsApp-marked text as Telegram HTML. */
export function whatsAppToTelegramHtml(text: string): string {
  let out = "";
  // Code first (``` blocks, then `spans`): nothing inside it is formatted.
  const code = /```([\s\S]+?)```|`([^`\n]+)`/g;
  let last = 0;
  for (const m of text.matchAll(code)) {
    out += emphasis(text.slice(last, m.index));
    const block = m[1]?.replace(/^\n/, "").replace(/\n$/, "");
    out += block === undefined
      ? `<code>${escapeHtml(m[2])}</code>`
      : block.trim()
      ? `<pre>${escapeHtml(block)}</pre>`
      : escapeHtml(m[0]);
    last = m.index! + m[0].length;
  }
  return out + emphasis(text.slice(last));
}

/** What Telegram would show for HTML we wrote: the tags dropped, the entities read. */
export function telegramHtmlToPlain(html: string): string {
  return html.replace(/<[^>]*>/g, "").replaceAll("&lt;", "<").replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"').replaceAll("&amp;", "&");
}

/** Titles as keyboard rows: two a row, so a short menu stays compact. */
function keyboard(titles: string[]): Record<string, unknown> {
  const rows: { text: string }[][] = [];
  for (let i = 0; i < titles.length; i += 2) {
    rows.push(titles.slice(i, i + 2).map((text) => ({ text })));
  }
  return { keyboard: rows, resize_keyboard: true, one_time_keyboard: true };
}

function titlesOf(menu: Menu): string[] {
  return menu.type === "buttons"
    ? menu.buttons.map((b) => b.title)
    : menu.sections.flatMap((s) => s.rows.map((r) => r.title));
}

/** Text (WhatsApp-marked) as one or more HTML messages within Telegram's limit. */
function texts(text: string, markup?: Record<string, unknown>): OutboundMessage[] {
  const parts = splitMessage(text, TELEGRAM_TEXT_LIMIT);
  return parts.map((part, i) => ({
    text: whatsAppToTelegramHtml(part),
    parse_mode: "HTML" as const,
    // A keyboard goes with the last part, under the text that offers it.
    ...(markup && i === parts.length - 1 ? { reply_markup: markup } : {}),
  }));
}

/**
 * The messages to send for the flows' replies, in order. A template (WhatsApp's way to write
 * outside its 24-hour window) has no meaning here: its text fallback is what goes.
 */
export function telegramMessages(replies: Outgoing[]): OutboundMessage[] {
  return replies.flatMap(({ message: m }): OutboundMessage[] => {
    switch (m.type) {
      case "text":
        return texts(m.text);
      case "buttons":
        return texts(
          [m.header, m.body, m.footer].filter(Boolean).join("\n\n"),
          keyboard(titlesOf(m)),
        );
      case "list":
        return texts(
          renderNumberedMenu(m, "Tap a choice below, or send its number."),
          keyboard(titlesOf(m)),
        );
      case "template":
        return [];
    }
  });
}
