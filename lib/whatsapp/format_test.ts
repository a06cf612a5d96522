import assert from "node:assert/strict";
import {
  fitText,
  markdownToWhatsApp,
  META_TEXT_LIMIT,
  splitMessage,
  TWILIO_TEXT_LIMIT,
} from "./format.ts";

/** A small seeded PRNG (mulberry32) so a failing generated case can be replayed by its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ["the", "token", "Harare", "mombe", "ZiG", "answer", "é", "👍🏽", "x", "AI", "🇿🇼"];

/** Text with words, sentences, lines, paragraphs, odd whitespace, emoji and long unbroken runs. */
function generateText(random: () => number, maxLength: number): string {
  let text = "";
  const target = Math.floor(random() * maxLength);
  while (text.length < target) {
    const r = random();
    if (r < 0.6) text += WORDS[Math.floor(random() * WORDS.length)];
    else if (r < 0.7) text += " ";
    else if (r < 0.78) text += ". ";
    else if (r < 0.82) text += "?\n";
    else if (r < 0.86) text += "\n\n";
    else if (r < 0.88) text += " \t \n \n  ";
    else if (r < 0.9) text += "😀".repeat(1 + Math.floor(random() * 80));
    else if (r < 0.91) text += "a".repeat(1 + Math.floor(random() * 300));
    else text += " ";
  }
  return text;
}

/**
 * The invariants every split must keep: no chunk over the limit, none empty or padded with
 * whitespace, no emoji cut in half, and the chunks are the text, in order, with only whitespace
 * dropped where it was cut.
 */
function assertValidSplit(text: string, limit: number, chunks: string[], label: string) {
  for (const chunk of chunks) {
    assert.ok(chunk.length <= limit, `${label}: chunk of ${chunk.length} > ${limit}`);
    assert.ok(chunk.length > 0, `${label}: empty chunk`);
    assert.equal(chunk, chunk.trim(), `${label}: chunk has outer whitespace`);
    assert.ok(chunk.isWellFormed(), `${label}: chunk splits a surrogate pair`);
  }
  let at = 0;
  for (const [i, chunk] of chunks.entries()) {
    while (at < text.length && /\s/.test(text[at])) at++;
    assert.ok(
      text.startsWith(chunk, at),
      `${label}: chunk ${i} is not the text at ${at}: ${JSON.stringify(chunk.slice(0, 40))}`,
    );
    at += chunk.length;
  }
  assert.match(text.slice(at), /^\s*$/, `${label}: text left over after the last chunk`);
}

const paragraph = (n: number, words = 80) =>
  Array.from({ length: words }, (_, i) => `word${n}_${i}`).join(" ") + ".";

Deno.test("a 9,000-character answer becomes 3 Meta messages, in order, none over 4,096", () => {
  const paragraphs: string[] = [];
  for (let n = 0; paragraphs.join("\n\n").length < 9_000; n++) paragraphs.push(paragraph(n, 40));
  const answer = paragraphs.join("\n\n").slice(0, 9_000).trimEnd();
  assert.ok(answer.length > 8_950);

  const chunks = splitMessage(answer, META_TEXT_LIMIT);

  assert.equal(chunks.length, 3);
  assertValidSplit(answer, META_TEXT_LIMIT, chunks, "9000");
  // Cut between paragraphs: every chunk but the last ends a paragraph with its full stop.
  for (const chunk of chunks.slice(0, -1)) assert.match(chunk, /\.$/);
});

Deno.test("a long answer for Twilio fills messages of at most 1,600 chars with whole paragraphs", () => {
  const paragraphs = Array.from({ length: 40 }, (_, n) => paragraph(10 + n, 25));
  const length = paragraphs[0].length;
  assert.ok(paragraphs.every((p) => p.length === length));
  const answer = paragraphs.join("\n\n");

  const chunks = splitMessage(answer, TWILIO_TEXT_LIMIT);

  assertValidSplit(answer, TWILIO_TEXT_LIMIT, chunks, "twilio");
  const perMessage = Math.floor((TWILIO_TEXT_LIMIT + 2) / (length + 2));
  assert.equal(chunks.length, Math.ceil(40 / perMessage));
  assert.equal(chunks[0], paragraphs.slice(0, perMessage).join("\n\n"));
});

Deno.test("a text within the limit is one message, trimmed", () => {
  assert.deepEqual(splitMessage("  hello\n\n", 10), ["hello"]);
  assert.deepEqual(splitMessage("x".repeat(4096), META_TEXT_LIMIT), ["x".repeat(4096)]);
  assert.deepEqual(splitMessage(" \n\t ", 10), []);
});

Deno.test("splitting prefers a paragraph break, then a sentence end, then a space", () => {
  assert.deepEqual(
    splitMessage("First para here.\n\nSecond one. Still second.", 30),
    ["First para here.", "Second one. Still second."],
  );
  assert.deepEqual(
    splitMessage("One sentence here. Two sentence here and more", 30),
    ["One sentence here.", "Two sentence here and more"],
  );
  assert.deepEqual(
    splitMessage("alpha beta gamma delta epsilon zeta", 12),
    ["alpha beta", "gamma delta", "epsilon zeta"],
  );
});

Deno.test("a boundary that would leave a tiny first message is passed over for a later one", () => {
  const text = "Hi.\n\n" + "This sentence is long enough. " + "And this one ends it.";
  const chunks = splitMessage(text, 40);
  assert.equal(chunks[0], "Hi.\n\nThis sentence is long enough.");
  assertValidSplit(text, 40, chunks, "min fill");
});

Deno.test("an unbroken run is cut at the limit but never inside an emoji", () => {
  assert.deepEqual(splitMessage("abcdefghij", 4), ["abcd", "efgh", "ij"]);
  const emoji = "😀".repeat(5); // 10 UTF-16 units
  const chunks = splitMessage(emoji, 3);
  assert.deepEqual(chunks, ["😀", "😀", "😀", "😀", "😀"]);
});

Deno.test("splitting refuses a limit that cannot hold an emoji", () => {
  assert.throws(() => splitMessage("abc", 1), RangeError);
  assert.throws(() => splitMessage("abc", 2.5), RangeError);
});

Deno.test("property: 400 generated texts split within the limit and lose nothing but cut whitespace", () => {
  for (let seed = 1; seed <= 400; seed++) {
    const random = prng(seed);
    const limit = [2, 3, 7, 20, 50, 160, 1600, 4096][seed % 8];
    const text = generateText(random, seed % 5 === 0 ? 12_000 : 1_500);
    const chunks = splitMessage(text, limit);
    assertValidSplit(text, limit, chunks, `seed ${seed} limit ${limit}`);
    if (text.trim().length <= limit) assert.equal(chunks.length, text.trim() ? 1 : 0);
  }
});

Deno.test("property: with short words, no message but the last is under half full", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const random = prng(seed * 7919);
    let text = "";
    while (text.length < 20_000) {
      const r = random();
      text += WORDS[Math.floor(random() * 6)] + (r < 0.1 ? ". " : r < 0.14 ? "\n\n" : " ");
    }
    const limit = [100, 1600, 4096][seed % 3];
    const chunks = splitMessage(text, limit);
    assertValidSplit(text, limit, chunks, `seed ${seed}`);
    for (const chunk of chunks.slice(0, -1)) {
      assert.ok(chunk.length >= limit / 2 - 10, `seed ${seed}: chunk of ${chunk.length}`);
    }
  }
});

Deno.test("fitText shortens with an ellipsis, within the limit, without cutting an emoji", () => {
  assert.equal(fitText("Buy tokens", 20), "Buy tokens");
  assert.equal(fitText("Report a problem with a payment", 20), "Report a problem wi…");
  assert.equal(fitText("Report a problem with a payment", 20).length, 20);
  assert.equal(fitText("ab😀cd", 4), "ab…");
  assert.equal(fitText("  spaced \n out  ", 20), "spaced out");
});

/** Markdown in, WhatsApp text out: each entry is one test, its pairs checked in turn. */
const CONVERSIONS: Record<string, [markdown: string, whatsApp: string][]> = {
  "markdown emphasis becomes WhatsApp's: bold, italic, bold italic, strikethrough": [
    ["**bold** and __also bold__", "*bold* and *also bold*"],
    ["*italic* and _italic_", "_italic_ and _italic_"],
    ["***both***", "*_both_*"],
    ["~~gone~~", "~gone~"],
    ["**bold with *italic* inside**", "*bold with _italic_ inside*"],
  ],
  "arithmetic, snake_case and lone stars are left alone": [
    ["2 * 3 * 4 = 24", "2 * 3 * 4 = 24"],
    ["a*b*c", "a*b*c"],
    ["use snake_case_names", "use snake_case_names"],
    ["5 * 5", "5 * 5"],
  ],
  "headings become bold lines and lists get bullets": [[
    [
      "# Title",
      "## Section **two**",
      "- first",
      "* second",
      "+ third",
      "  - nested",
      "- [ ] todo",
      "- [x] done",
      "1. numbered stays",
    ].join("\n"),
    [
      "*Title*",
      "*Section two*",
      "• first",
      "• second",
      "• third",
      "  • nested",
      "☐ todo",
      "☑ done",
      "1. numbered stays",
    ].join("\n"),
  ]],
  "a list item's emphasis is converted, not mistaken for the bullet": [
    ["* **Chat** keeps memory", "• *Chat* keeps memory"],
  ],
  "code fences stay ``` blocks, untouched inside, without the language tag": [[
    "Run:\n\n```python\nx = a * b * c  # **not bold**\nprint(x)\n```\n\nDone **now**.",
    "Run:\n\n```\nx = a * b * c  # **not bold**\nprint(x)\n```\n\nDone *now*.",
  ]],
  "an unclosed code fence (a cut-off answer) is still kept as code": [
    ["See:\n```js\nlet a = **b**;", "See:\n```\nlet a = **b**;\n```"],
  ],
  "inline code is kept and its stars are not formatting": [
    ["call `f(**x**)` **now**", "call `f(**x**)` *now*"],
  ],
  "links become 'text (url)' and the url keeps its underscores and stars": [
    [
      "See [the docs](https://x.co/a_b_c*d*) and <https://y.co/_z_>.",
      "See the docs (https://x.co/a_b_c*d*) and https://y.co/_z_.",
    ],
    ["[https://x.co](https://x.co)", "https://x.co"],
    ["![a chart](https://x.co/c.png)", "a chart (https://x.co/c.png)"],
  ],
  "escaped markdown characters come out literal": [
    ["\\*not italic\\* and \\# no heading", "*not italic* and # no heading"],
  ],
  "rules and runs of blank lines are tidied": [["a\n\n\n\n---\n\n\nb  ", "a\n\n———\n\nb"]],
};

for (const [name, pairs] of Object.entries(CONVERSIONS)) {
  Deno.test(name, () => {
    for (const [markdown, whatsApp] of pairs) assert.equal(markdownToWhatsApp(markdown), whatsApp);
  });
}

Deno.test("property: conversion never throws and never leaks its placeholders", () => {
  const alphabet = [
    "*",
    "**",
    "_",
    "__",
    "~~",
    "`",
    "```",
    "#",
    "- ",
    "[",
    "](",
    ")",
    "\n",
    " ",
    "x",
    "\\",
    "\uE000",
    "\uE001",
    "1",
    "<",
    ">",
    "http://a.b",
  ];
  for (let seed = 1; seed <= 500; seed++) {
    const random = prng(seed);
    let md = "";
    for (let i = 0; i < 60; i++) md += alphabet[Math.floor(random() * alphabet.length)];
    const out = markdownToWhatsApp(md);
    assert.ok(!/[\uE000\uE001]/.test(out), `seed ${seed}: ${JSON.stringify(md)}`);
  }
});
