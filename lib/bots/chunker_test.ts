/** Chunking by tokens: headings kept with their text, budgets held, overlap repeated. */
import assert from "node:assert/strict";
import { countTextTokens } from "../ai/tokens.ts";
import { chunkText, sections } from "./chunker.ts";

Deno.test("sections carry their heading path; text before any heading has none", () => {
  assert.deepEqual(
    sections(
      "Intro line.\n\n# Billing\n\nPay monthly.\n\n## Refunds\n\nWithin 30 days.\n# Other\nx",
    ),
    [
      { heading: "", paragraphs: ["Intro line."] },
      { heading: "Billing", paragraphs: ["Pay monthly."] },
      { heading: "Billing › Refunds", paragraphs: ["Within 30 days."] },
      { heading: "Other", paragraphs: ["x"] },
    ],
  );
});

Deno.test("chunks hold at most their budget, never span sections, and overlap", () => {
  const sentences = Array.from({ length: 80 }, (_, i) => `Sentence ${i} says something useful.`);
  const text = `# Guide\n\n${sentences.join(" ")}\n\n# Next\n\nShort.`;
  const chunks = chunkText(text, { maxTokens: 60, overlapTokens: 15 });
  assert.ok(chunks.length > 5);
  for (const c of chunks) {
    assert.ok(c.tokens + countTextTokens(c.heading) <= 60, `${c.tokens} tokens`);
    assert.ok(c.heading === "Guide" || c.heading === "Next");
  }
  assert.deepEqual(chunks.map((c) => c.ordinal), chunks.map((_, i) => i));
  const guide = chunks.filter((c) => c.heading === "Guide");
  for (let i = 1; i < guide.length; i++) {
    const lastOfPrevious = guide[i - 1].content.split(/(?<=\.) /).at(-1)!;
    const head = guide[i].content.slice(0, 120);
    assert.ok(
      head.includes(lastOfPrevious),
      "the next chunk starts by repeating the last sentence",
    );
  }
  assert.equal(chunks.at(-1)!.content, "Short.");
  // Every sentence is somewhere.
  const all = chunks.map((c) => c.content).join(" ");
  for (const s of sentences) assert.ok(all.includes(s), s);
});

Deno.test("a run without spaces is cut, and the same text always gives the same chunks", () => {
  const text = "# Data\n\n" + "A".repeat(20_000);
  const a = chunkText(text, { maxTokens: 100, overlapTokens: 10 });
  assert.ok(a.length > 1);
  for (const c of a) assert.ok(c.tokens <= 100);
  assert.deepEqual(chunkText(text, { maxTokens: 100, overlapTokens: 10 }), a);
});
