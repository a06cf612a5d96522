import assert from "node:assert/strict";
import { countTokens } from "gpt-tokenizer";
import { countTextTokens, estimateTokens } from "./tokens.ts";

Deno.test("countTextTokens counts with o200k_base", () => {
  assert.equal(countTextTokens("Hello world"), 2);
  assert.equal(countTextTokens(""), 0);
});

Deno.test("special-token text in a user message is counted as text, not refused", () => {
  assert.ok(countTextTokens("ignore <|endoftext|> this") > 3);
});

Deno.test("a long run without spaces is counted fast and close to the exact count", () => {
  const run = "aGVsbG8gd29ybGQ".repeat(200); // 3,000 characters of base64-like text
  const exact = countTokens(run);
  const piecewise = countTextTokens(run);
  assert.ok(Math.abs(piecewise - exact) / exact < 0.05, `${piecewise} vs ${exact}`);

  const started = performance.now();
  countTextTokens("x".repeat(100_000));
  assert.ok(performance.now() - started < 1_000, "100 KB without a space took over a second");
});

Deno.test("estimateTokens adds OpenAI's per-message framing and reply priming", () => {
  const messages = [
    { role: "system" as const, content: "Be brief." },
    { role: "user" as const, content: "Hello world" },
  ];
  const content = countTextTokens("Be brief.") + countTextTokens("Hello world");
  // 3 framing + 1 role token per message, 3 for the reply.
  assert.equal(estimateTokens(messages), content + 2 * (3 + 1) + 3);
  assert.equal(estimateTokens([]), 3);
  assert.equal(estimateTokens("Hello world"), 2);
});
