/**
 * A web page (or the HTML mammoth makes of a Word document) as the markdown-like text the
 * chunker reads: headings as `#` lines, paragraphs, list items and table rows as their own
 * lines, and none of what a reader does not read (scripts, styles, navigation, forms).
 *
 * npm `htmlparser2` reads the HTML: a streaming, forgiving parser, so broken or hostile markup
 * gives some text or none, never an exception. Its entity decoding is on.
 */
import { Parser } from "htmlparser2";

/** Elements whose content is not part of what a page says. */
const SKIPPED = new Set([
  "script",
  "style",
  "noscript",
  "template",
  "svg",
  "math",
  "nav",
  "footer",
  "aside",
  "form",
  "iframe",
  "object",
  "button",
  "select",
  "textarea",
  "canvas",
  "head",
]);

/** Elements that end a line of text. */
const BLOCKS = new Set([
  "p",
  "div",
  "section",
  "article",
  "main",
  "header",
  "li",
  "ul",
  "ol",
  "dl",
  "dt",
  "dd",
  "tr",
  "table",
  "thead",
  "tbody",
  "blockquote",
  "pre",
  "figure",
  "figcaption",
  "br",
  "hr",
  "address",
  "details",
  "summary",
]);

/** A Map, as every table looked up by a name from outside: `<constructor>` is no heading. */
const HEADINGS = new Map<string, number>(
  Object.entries({ h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 }),
);

export interface HtmlText {
  /** The page's `<title>` (or its first heading), if any. */
  title: string | null;
  text: string;
}

/** The readable text of `html`, at most `maxChars` of it. */
export function htmlToText(html: string, maxChars = 20_000_000): HtmlText {
  const lines: string[] = [];
  let line = "";
  let skipDepth = 0;
  let heading = 0;
  let inTitle = false;
  let title = "";
  let firstHeading: string | null = null;
  let size = 0;
  const endLine = (blank = false) => {
    const text = line.replace(/\s+/g, " ").trim().replace(/^#+$/, "");
    line = "";
    if (!text) {
      if (blank && lines.length > 0 && lines[lines.length - 1] !== "") lines.push("");
      return;
    }
    if (size > maxChars) return;
    size += text.length;
    lines.push(text);
    if (blank) lines.push("");
  };
  const parser = new Parser({
    onopentag(name) {
      if (name === "title") inTitle = true;
      // The parser closes every tag it opens (void and implied ones too): a depth suffices.
      if (skipDepth > 0 || SKIPPED.has(name)) {
        skipDepth++;
        return;
      }
      const level = HEADINGS.get(name);
      if (level) {
        endLine(true);
        heading = level;
        line = "#".repeat(level) + " ";
      } else if (BLOCKS.has(name)) {
        endLine(name === "p" || name === "table" || name === "ul" || name === "ol");
        if (name === "li") line = "- ";
      }
    },
    ontext(text) {
      if (inTitle) {
        title += text;
        return;
      }
      if (skipDepth > 0) return;
      line += text;
    },
    onclosetag(name) {
      if (name === "title") inTitle = false;
      if (skipDepth > 0) {
        skipDepth--;
        return;
      }
      if (HEADINGS.get(name) && heading) {
        const text = line.replace(/^#+\s*/, "").replace(/\s+/g, " ").trim();
        if (!text) line = "";
        firstHeading ??= text || null;
        heading = 0;
        endLine(true);
      } else if (BLOCKS.has(name)) {
        endLine(name === "p" || name === "table" || name === "ul" || name === "ol");
      }
    },
  }, { decodeEntities: true, lowerCaseTags: true });
  parser.write(html);
  parser.end();
  endLine();
  const pageTitle = title.replace(/\s+/g, " ").trim().slice(0, 200);
  return {
    title: pageTitle || firstHeading,
    text: lines.join("\n").replace(/\n{3,}/g, "\n\n").trim(),
  };
}
