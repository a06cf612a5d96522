/**
 * Turning an AI answer (markdown, any length) into WhatsApp messages.
 *
 * WhatsApp has its own small markup (`*bold*`, `_italic_`, `~strike~`, ``` blocks, `> quote`)
 * and shows markdown's `**`/`#`/`[t](u)` literally, so answers are converted, then split into
 * messages no longer than the provider allows (4096 chars on Meta, 1600 on Twilio).
 *
 * Lengths are counted in UTF-16 code units (`string.length`), which is never less than the
 * character count a provider may use, and a split never cuts a surrogate pair (an emoji) in two.
 * Written here rather than with `marked`: we need a handful of line and inline rewrites, not an
 * AST, and a renderer would still need this much code to emit WhatsApp's markup.
 */

export const META_TEXT_LIMIT = 4096;
export const TWILIO_TEXT_LIMIT = 1600;

// ---------------------------------------------------------------------------------------------
// Splitting

/** Boundaries in order of preference, each a regex whose match is the whitespace to drop. */
const BOUNDARIES: RegExp[] = [
  /\n[ \t]*\n\s*/g, // paragraph
  /\n\s*/g, // line (list items, code lines)
  /(?<=[.!?…]["'”’)\]]*)\s+/g, // sentence
  /\s+/g, // word
];

/**
 * A boundary is only taken if the chunk before it is at least this fraction of the limit, so a
 * short first paragraph does not cost a whole extra message.
 */
const MIN_FILL = 0.5;

/**
 * Splits `text` into messages of at most `limit` UTF-16 units, cutting at a paragraph break if
 * one is in reach, else a line break, a sentence end, a space, or (for one unbroken run of
 * `limit` characters) anywhere but inside a surrogate pair. Chunks keep their order; the
 * whitespace at each cut is dropped and nothing else is. Whitespace-only text → `[]`.
 */
export function splitMessage(text: string, limit: number): string[] {
  if (!Number.isInteger(limit) || limit < 2) {
    throw new RangeError(`split limit must be an integer ≥ 2, got ${limit}`);
  }
  const chunks: string[] = [];
  let rest = text.trim();
  while (rest.length > limit) {
    const { end, next } = cutPoint(rest, limit);
    chunks.push(rest.slice(0, end).trimEnd());
    rest = rest.slice(next).trimStart();
  }
  if (rest) chunks.push(rest);
  return chunks;
}

/** Where to end the chunk (`end`) and where the rest starts (`next`), for `s.length > limit`. */
function cutPoint(s: string, limit: number): { end: number; next: number } {
  // One character past the limit is looked at, so whitespace right after a full chunk counts.
  const window = s.slice(0, limit + 1);
  const minEnd = Math.floor(limit * MIN_FILL);
  for (const boundary of BOUNDARIES) {
    let best: { end: number; next: number } | undefined;
    boundary.lastIndex = 0;
    for (const match of window.matchAll(boundary)) {
      const end = match.index;
      if (end > limit) break;
      if (end >= minEnd || boundary === BOUNDARIES[BOUNDARIES.length - 1]) {
        if (end > 0) best = { end, next: end + match[0].length };
      }
    }
    if (best) return best;
  }
  // No whitespace at all: cut at the limit, but not between the halves of a surrogate pair.
  const code = s.charCodeAt(limit - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit;
  return { end, next: end };
}

/**
 * Shortens display text to at most `max` UTF-16 units, ending with "…" when it cut. For titles
 * and labels whose limits WhatsApp enforces by refusing the whole message.
 */
export function fitText(text: string, max: number): string {
  const clean = text.replace(/\s+/g, " ").trim();
  if (clean.length <= max) return clean;
  let cut = max - 1;
  const code = clean.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return clean.slice(0, cut).trimEnd() + "…";
}

// ---------------------------------------------------------------------------------------------
// Markdown → WhatsApp

/**
 * Placeholders for text that later rewrites must not touch (code, URLs, escapes), delimited by
 * two private-use characters that are removed from the input first.
 */
class Stash {
  #items: string[] = [];
  put(text: string): string {
    this.#items.push(text);
    return `\uE000${this.#items.length - 1}\uE001`;
  }
  restore(text: string): string {
    // Stashed text can hold placeholders itself (a link inside a heading): unwrap until none.
    for (let i = 0; i < 4 && text.includes("\uE000"); i++) {
      text = text.replace(/\uE000(\d+)\uE001/g, (_m, n) => this.#items[Number(n)] ?? "");
    }
    return text;
  }
}

/**
 * Rewrites common markdown into WhatsApp's markup:
 * `**b**`/`__b__` → `*b*`, `*i*`/`_i_` → `_i_`, `***bi***` → `*_bi_*`, `~~s~~` → `~s~`,
 * `# Heading` → `*Heading*`, `- item`/`* item`/`+ item` → `• item` (task lists → ☐/☑),
 * ``` fences kept (language tag dropped), `inline code` kept, `[t](u)` → `t (u)`,
 * `![alt](u)` → `alt (u)`, `<u>` → `u`, `---` → an em-dash rule, `\*` escapes → literal.
 * Quotes (`> `), numbered lists and tables pass through. Runs of blank lines collapse to one.
 */
export function markdownToWhatsApp(markdown: string): string {
  const stash = new Stash();
  let text = markdown.replace(/[\uE000\uE001]/g, "").replace(/\r\n?/g, "\n");

  // Fenced code, closed or running to the end (a truncated answer).
  text = text.replace(
    /^[ \t]*(`{3,}|~{3,})[^\n]*\n([\s\S]*?)(?:^[ \t]*\1[ \t]*$|(?![\s\S]))/gm,
    (_m, _fence, code: string) => stash.put("```\n" + code.replace(/\n+$/, "") + "\n```"),
  );
  text = text.replace(/`[^`\n]+`/g, (code) => stash.put(code));
  text = text.replace(/\\([\\`*_{}[\]()#+\-.!~>|])/g, (_m, ch: string) => stash.put(ch));

  // Links and images: the URL is stashed so its underscores and stars stay as they are.
  text = text.replace(
    /!?\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"\n]*")?\s*\)/g,
    (_m, label: string, url: string) => {
      const shown = label.trim();
      return !shown || shown === url ? stash.put(url) : `${shown} (${stash.put(url)})`;
    },
  );
  text = text.replace(/<((?:https?|mailto):[^>\s]+)>/g, (_m, url: string) => stash.put(url));

  text = text.split("\n").map((line) => convertLine(line, stash)).join("\n");
  text = convertInline(text, stash);

  return stash.restore(text)
    .replace(/[ \t]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

function convertLine(line: string, stash: Stash): string {
  const heading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
  if (heading) {
    // A heading is bold as a whole, so emphasis inside it would only add stray markers.
    const inner = heading[1].replace(/\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)/g, "").trim();
    return inner ? stash.put(`*${inner}*`) : "";
  }
  if (/^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/.test(line)) return "———";
  const item = /^([ \t]*)[-*+][ \t]+(?:\[([ xX])\][ \t]+)?(.*)$/.exec(line);
  if (item) {
    const [, indent, task, rest] = item;
    const bullet = task === undefined ? "•" : task === " " ? "☐" : "☑";
    return `${indent}${bullet} ${rest}`;
  }
  return line;
}

function convertInline(text: string, stash: Stash): string {
  return text
    // Bold italic first, and set aside, so its markers are not read again as italic or bold.
    .replace(/\*\*\*(?=\S)([^\n]*?\S)\*\*\*/g, (_m, inner: string) => stash.put(`*_${inner}_*`))
    // Single-star italic, not touching other stars and not inside words (2*3*4 stays).
    .replace(/(?<![*\w])\*(?![\s*])([^*\n]*?[^\s*])\*(?![*\w])/g, "_$1_")
    .replace(/\*\*(?=\S)([^\n]*?\S)\*\*/g, "*$1*")
    .replace(/(?<!\w)__(?=\S)([^\n]*?\S)__(?!\w)/g, "*$1*")
    .replace(/~~(?=\S)([^\n]*?\S)~~/g, "~$1~");
}
