/**
 * Markdown to HTML for model answers, safe to insert into a page: npm `markdown-it` with raw HTML
 * disabled (any `<tag>` in the text is shown as text, escaped), its link validation (no
 * `javascript:`, `vbscript:`, `file:` or non-image `data:` URLs), and links that open in a new tab
 * without handing over the opener. Pure and browser-safe: the chat island uses it on both sides.
 *
 * @example renderMarkdown("**hi** <script>alert(1)</script>")
 * // → "<p><strong>hi</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
 */
// @ts-types="@types/markdown-it"
import MarkdownIt from "markdown-it";

const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });

const defaultLinkOpen = md.renderer.rules.link_open ??
  ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet("target", "_blank");
  tokens[idx].attrSet("rel", "noopener noreferrer nofollow");
  return defaultLinkOpen(tokens, idx, options, env, self);
};
// Images would load third-party URLs from a model's answer: shown as links instead.
md.renderer.rules.image = (tokens, idx) => {
  const token = tokens[idx];
  const src = md.utils.escapeHtml(token.attrGet("src") ?? "");
  const alt = md.utils.escapeHtml(token.content || src);
  return `<a href="${src}" target="_blank" rel="noopener noreferrer nofollow">${alt}</a>`;
};

export function renderMarkdown(text: string): string {
  return md.render(text);
}
