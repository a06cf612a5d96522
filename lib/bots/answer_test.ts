/** A bot's prompt: its instructions, the rule it answers by, and its knowledge numbered by source. */
import assert from "node:assert/strict";
import { buildPrompt, citationsOf, citedIn } from "./answer.ts";
import type { Bot } from "./model.ts";
import type { Passage } from "./retrieval.ts";

const bot = { name: "Shop", instructions: "", knowledgeOnly: true } as Bot;
const passage = (sourceId: string, title: string, content: string): Passage => ({
  chunkId: 1,
  sourceId,
  sourceTitle: title,
  sourceKind: sourceId === "b" ? "url" : "text",
  url: sourceId === "b" ? "https://shop.example/faq" : null,
  heading: "",
  content,
  tokens: 10,
});

Deno.test("the prompt numbers knowledge by source and states the bot's rule", () => {
  const passages = [
    passage("a", "Hours", "Open at nine."),
    passage("b", "FAQ", "Returns within 30 days."),
    passage("a", "Hours", "Closed on Sundays."),
  ];
  const citations = citationsOf(passages);
  assert.deepEqual(citations, [
    { n: 1, sourceId: "a", title: "Hours", url: null },
    { n: 2, sourceId: "b", title: "FAQ", url: "https://shop.example/faq" },
  ]);
  const prompt = buildPrompt(bot, passages, citations);
  assert.match(prompt, /You are Shop/);
  assert.match(prompt, /Answer only from the knowledge below.*don't know/s);
  assert.match(
    prompt,
    /\[1\] Hours\nOpen at nine\.\n\n\[2\] FAQ\nReturns within 30 days\.\n\n\[1\] Hours/,
  );
  const general = buildPrompt({ ...bot, knowledgeOnly: false, instructions: "Be brief." }, [], []);
  assert.match(general, /^Be brief\./);
  assert.match(general, /may answer from general knowledge/);
  assert.match(general, /<knowledge>\n\(nothing relevant found\)\n<\/knowledge>/);
  assert.deepEqual(citedIn("See [2], not [7].", citations).map((c) => c.n), [2]);
});
