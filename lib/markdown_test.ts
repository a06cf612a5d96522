import assert from "node:assert/strict";
import { renderMarkdown } from "./markdown.ts";

Deno.test("markdown renders structure", () => {
  const html = renderMarkdown("# Title\n\n- one\n- **two**\n\n```js\nlet a = 1 < 2;\n```");
  assert.match(html, /<h1>Title<\/h1>/);
  assert.match(html, /<li><strong>two<\/strong><\/li>/);
  assert.match(html, /<code class="language-js">let a = 1 &lt; 2;\n<\/code>/);
});

Deno.test("raw HTML is shown as text, never injected", () => {
  const html = renderMarkdown(
    'Hi <script>alert(1)</script> <img src=x onerror="alert(2)"> <a href="javascript:alert(3)">x</a>',
  );
  assert.ok(!html.includes("<script"));
  assert.ok(!html.includes("<img"));
  assert.ok(!/<a [^>]*javascript:/i.test(html));
  assert.match(html, /&lt;script&gt;/);
});

Deno.test("dangerous link targets are dropped; links open safely", () => {
  assert.ok(!renderMarkdown("[x](javascript:alert(1))").includes("href"));
  assert.ok(!renderMarkdown("[x](vbscript:msgbox)").includes("href"));
  const ok = renderMarkdown("[ZIMSEC](https://www.zimsec.co.zw)");
  assert.match(
    ok,
    /href="https:\/\/www\.zimsec\.co\.zw" target="_blank" rel="noopener noreferrer nofollow"/,
  );
  const img = renderMarkdown("![logo](https://example.com/x.png)");
  assert.ok(!img.includes("<img"));
});
