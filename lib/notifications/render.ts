/**
 * A notification is written once in markdown and rendered for each channel: Slack's mrkdwn,
 * Telegram's HTML subset, WhatsApp's own marks, plain text, and HTML for e-mail (lib/markdown.ts).
 *
 * One walk over markdown-it's tokens (raw HTML off, so a `<tag>` in a message is text) with a
 * dialect per target: how it marks bold, italics, strike-through, code, links, headings, quotes
 * and list items, and what it must escape. Anything a dialect cannot show (images, tables) comes
 * out as its text.
 */
// @ts-types="@types/markdown-it"
import MarkdownIt from "markdown-it";
import { renderMarkdown } from "../markdown.ts";

const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });

type Token = ReturnType<typeof md.parse>[number];

interface Dialect {
  escape(text: string): string;
  strong: [string, string];
  em: [string, string];
  strike: [string, string];
  code(text: string): string;
  pre(text: string): string;
  link(text: string, href: string): string;
  heading(text: string): string;
  quote(text: string): string;
  bullet: string;
}

const escapeHtml = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

const SLACK: Dialect = {
  // Slack reads only these three as control characters.
  escape: escapeHtml,
  strong: ["*", "*"],
  em: ["_", "_"],
  strike: ["~", "~"],
  code: (t) => "`" + t + "`",
  pre: (t) => "```\n" + t + "\n```",
  link: (text, href) => text && text !== href ? `<${href}|${text}>` : `<${href}>`,
  heading: (t) => `*${t}*`,
  quote: (t) => t.split("\n").map((l) => `> ${l}`).join("\n"),
  bullet: "• ",
};

const TELEGRAM: Dialect = {
  escape: escapeHtml,
  strong: ["<b>", "</b>"],
  em: ["<i>", "</i>"],
  strike: ["<s>", "</s>"],
  code: (t) => `<code>${t}</code>`,
  pre: (t) => `<pre>${t}</pre>`,
  link: (text, href) => `<a href="${href.replaceAll('"', "&quot;")}">${text || href}</a>`,
  heading: (t) => `<b>${t}</b>`,
  quote: (t) => `<blockquote>${t}</blockquote>`,
  bullet: "• ",
};

const WHATSAPP: Dialect = {
  escape: (s) => s,
  strong: ["*", "*"],
  em: ["_", "_"],
  strike: ["~", "~"],
  code: (t) => "`" + t + "`",
  pre: (t) => "```" + t + "```",
  link: (text, href) => text && text !== href ? `${text} (${href})` : href,
  heading: (t) => `*${t}*`,
  quote: (t) => t.split("\n").map((l) => `> ${l}`).join("\n"),
  bullet: "• ",
};

/** WhatsApp's text without its marks: links and quotes are spelled out the same way. */
const PLAIN: Dialect = {
  ...WHATSAPP,
  strong: ["", ""],
  em: ["", ""],
  strike: ["", ""],
  code: (t) => t,
  pre: (t) => t,
  heading: (t) => t,
  bullet: "- ",
};

/** A mark's tag in markdown-it's tokens → the dialect's pair of strings around its text. */
const MARKS: Record<string, "strong" | "em" | "strike"> = {
  strong: "strong",
  em: "em",
  s: "strike",
};

function inline(tokens: Token[], d: Dialect): string {
  let out = "";
  const links: { start: number; href: string }[] = [];
  for (const t of tokens) {
    switch (t.type) {
      case "text":
        out += d.escape(t.content);
        break;
      case "softbreak":
      case "hardbreak":
        out += "\n";
        break;
      case "code_inline":
        out += d.code(d.escape(t.content));
        break;
      case "strong_open":
      case "strong_close":
      case "em_open":
      case "em_close":
      case "s_open":
      case "s_close":
        out += d[MARKS[t.tag]][t.nesting === 1 ? 0 : 1];
        break;
      case "link_open":
        links.push({ start: out.length, href: t.attrGet("href") ?? "" });
        break;
      case "link_close": {
        const link = links.pop();
        if (!link) break;
        const text = out.slice(link.start);
        out = out.slice(0, link.start) + d.link(text, d.escape(link.href));
        break;
      }
      case "image":
        out += d.link(d.escape(t.content), d.escape(t.attrGet("src") ?? ""));
        break;
      default:
        out += d.escape(t.content ?? "");
    }
  }
  return out;
}

/** Renders block tokens: blocks a blank line apart, a list's items on consecutive lines. */
function blocks(tokens: Token[], d: Dialect): string {
  /** Each block, and the list it is an item of (items of one list are not spaced). */
  const parts: { text: string; list?: number }[] = [];
  const lists: { id: number; ordered: boolean; n: number }[] = [];
  let listIds = 0;
  let item = false;
  let quoteStart: number | null = null;
  let heading = false;
  for (const t of tokens) {
    switch (t.type) {
      case "heading_open":
        heading = true;
        break;
      case "heading_close":
        heading = false;
        break;
      case "bullet_list_open":
      case "ordered_list_open":
        lists.push({
          id: ++listIds,
          ordered: t.type === "ordered_list_open",
          n: Number(t.attrGet("start") ?? 1) - 1,
        });
        break;
      case "bullet_list_close":
      case "ordered_list_close":
        lists.pop();
        break;
      case "list_item_open":
        lists[lists.length - 1].n++;
        item = true;
        break;
      case "blockquote_open":
        quoteStart = parts.length;
        break;
      case "blockquote_close":
        if (quoteStart !== null) {
          const quoted = parts.splice(quoteStart).map((p) => p.text).join("\n");
          parts.push({ text: d.quote(quoted) });
          quoteStart = null;
        }
        break;
      case "inline": {
        const text = inline(t.children ?? [], d);
        const list = lists[lists.length - 1];
        if (item && list) {
          const indent = "  ".repeat(lists.length - 1);
          parts.push({
            text: indent + (list.ordered ? `${list.n}. ` : d.bullet) + text,
            list: list.id,
          });
          item = false;
        } else parts.push({ text: heading ? d.heading(text) : text, list: list?.id });
        break;
      }
      case "fence":
      case "code_block":
        parts.push({ text: d.pre(d.escape(t.content.replace(/\n$/, ""))) });
        break;
      case "hr":
        parts.push({ text: "———" });
        break;
    }
  }
  return parts.map((p, i) =>
    (i === 0 ? "" : p.list !== undefined && p.list === parts[i - 1].list ? "\n" : "\n\n") + p.text
  ).join("");
}

function render(markdown: string, d: Dialect): string {
  return blocks(md.parse(markdown, {}), d).trim();
}

/** With the title (if any) as a first bold line. */
function withTitle(title: string | null | undefined, text: string, d: Dialect): string {
  const body = render(text, d);
  if (!title) return body;
  return `${d.strong[0]}${d.escape(title)}${d.strong[1]}\n\n${body}`;
}

export const toSlack = (title: string | null | undefined, text: string) =>
  withTitle(title, text, SLACK);
export const toTelegramHtml = (title: string | null | undefined, text: string) =>
  withTitle(title, text, TELEGRAM);
export const toWhatsApp = (title: string | null | undefined, text: string) =>
  withTitle(title, text, WHATSAPP);
export const toPlainText = (title: string | null | undefined, text: string) =>
  withTitle(title, text, PLAIN);

/** An e-mail's two parts: HTML (the chat's safe markdown renderer) and plain text. */
export function toEmail(title: string | null | undefined, text: string): {
  html: string;
  text: string;
} {
  const heading = title ? `<h2>${escapeHtml(title)}</h2>\n` : "";
  return {
    html: `<!doctype html><html><body>${heading}${renderMarkdown(text)}</body></html>`,
    text: toPlainText(title, text),
  };
}

/** Cuts `text` to `limit` characters, marking the cut. */
export function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text;
  return text.slice(0, limit - 1) + "…";
}
