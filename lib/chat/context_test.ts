import assert from "node:assert/strict";
import { estimateTokens } from "../ai/mod.ts";
import { assembleContext, priceOf, type Turn } from "./context.ts";

const count = (m: Parameters<typeof estimateTokens>[0]) => estimateTokens(m);
const history: Turn[] = Array.from({ length: 20 }, (_, i) => ({
  role: i % 2 === 0 ? "user" : "assistant",
  content: `turn ${i} ` + "some words here ".repeat(5),
}));

Deno.test("chat: everything fits → the whole history, in order, between prompt and question", () => {
  const out = assembleContext({
    mode: "chat",
    systemPrompt: "SYS",
    history,
    text: "now",
    budget: 100_000,
    count,
  });
  assert.equal(out.messages.length, 22);
  assert.equal(out.messages[0].content, "SYS");
  assert.equal(out.messages[1].content, history[0].content);
  assert.equal(out.messages.at(-1)!.content, "now");
  assert.equal(out.turnsDropped, 0);
  assert.equal(out.inputTokens, count(out.messages));
});

Deno.test("chat: a small budget keeps the newest turns, starting with a user turn, within it", () => {
  for (const budget of [60, 100, 150, 200, 300]) {
    const out = assembleContext({
      mode: "chat",
      systemPrompt: "SYS",
      history,
      text: "now",
      budget,
      count,
    });
    assert.ok(count(out.messages) <= budget, `${count(out.messages)} ≤ ${budget}`);
    assert.equal(out.inputTokens, count(out.messages));
    assert.equal(out.turnsKept + out.turnsDropped, history.length);
    const kept = out.messages.slice(1, -1);
    if (kept.length > 0) {
      assert.equal(kept[0].role, "user");
      assert.equal(kept.at(-1)!.content, history.at(-1)!.content, "the newest turn is kept");
    }
  }
});

Deno.test("chat: the new message always goes, even over the budget; essays send no history", () => {
  const big = "word ".repeat(500);
  const out = assembleContext({
    mode: "chat",
    systemPrompt: "S",
    history,
    text: big,
    budget: 50,
    count,
  });
  assert.deepEqual(out.messages.map((m) => m.role), ["system", "user"]);
  const essay = assembleContext({
    mode: "essay",
    systemPrompt: "E",
    history,
    text: "q",
    budget: 100_000,
    count,
  });
  assert.deepEqual(essay.messages, [{ role: "system", content: "E" }, {
    role: "user",
    content: "q",
  }]);
});

Deno.test("chat: a stored summary stands in for older turns", () => {
  const out = assembleContext({
    mode: "chat",
    systemPrompt: "S",
    history: history.slice(-2),
    text: "q",
    budget: 10_000,
    count,
    summary: "They talked about maize.",
  });
  assert.match(out.messages[1].content, /Summary of the earlier conversation: They talked/);
});

Deno.test("price: per 1,000 tokens, rounded up", () => {
  assert.equal(
    priceOf({ inputTokens: 1000, outputTokens: 1000 }, { inputPer1k: 1000, outputPer1k: 1000 }),
    2000,
  );
  assert.equal(priceOf({ inputTokens: 1, outputTokens: 0 }, { inputPer1k: 1, outputPer1k: 1 }), 1);
  assert.equal(
    priceOf({ inputTokens: 100, outputTokens: 200 }, { inputPer1k: 500, outputPer1k: 2000 }),
    450,
  );
  assert.equal(
    priceOf({ inputTokens: 0, outputTokens: 0 }, { inputPer1k: 500, outputPer1k: 2000 }),
    0,
  );
});
