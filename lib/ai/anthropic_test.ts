/**
 * The Anthropic adapter against the fake Anthropic server: the system prompt in `system`, usage
 * from `message_start`/`message_delta`, retries, typed failures, cut streams, caller aborts.
 */
import assert from "node:assert/strict";
import { fakePromptTokens, startFakeAnthropic } from "../sandbox/anthropic.ts";
import {
  drain,
  drainAnswer,
  expectError,
  providerFixture,
  type ProviderUnderTest,
  questionOf,
  testProviderChecks,
} from "../../tests/provider_checks.ts";
import { AnthropicProvider, splitSystem } from "./anthropic.ts";
import {
  AiContextTooLongError,
  AiNotSupportedError,
  AiRateLimitError,
  AiTimeoutError,
} from "./errors.ts";
import type { ChatMessage } from "./types.ts";

const MESSAGES = "/v1/messages";
const question = questionOf("Explain photosynthesis in one sentence.");
const anthropic: ProviderUnderTest<
  Awaited<ReturnType<typeof startFakeAnthropic>>,
  AnthropicProvider
> = {
  start: startFakeAnthropic,
  create: (settings) => new AnthropicProvider(settings),
  model: "claude-haiku-4-5",
  path: MESSAGES,
  question,
  sent: { system: question[0].content, messages: question.slice(1), stream: true },
  // message_start carries the upstream's input count before the first delta.
  cutInputTokens: fakePromptTokens(question),
};
const fixture = providerFixture(anthropic);

testProviderChecks(anthropic);

Deno.test("the system prompt goes in `system`, not among the messages", async () => {
  await using t = await fixture();
  const history: ChatMessage[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello!" },
    { role: "user", content: "Bye" },
  ];
  await t.ai.complete(history, { temperature: 1.4, maxOutputTokens: 50 });
  const sent = t.fake.calls(MESSAGES)[0].body as Record<string, unknown>;
  assert.equal(sent.system, "Be brief.");
  assert.deepEqual(sent.messages, history.slice(1));
  assert.equal(sent.max_tokens, 50);
  assert.equal(sent.temperature, 1, "clamped to Anthropic's 0–1");
});

Deno.test("splitSystem joins system turns and merges consecutive turns of one role", () => {
  assert.deepEqual(
    splitSystem([
      { role: "system", content: "A" },
      { role: "user", content: "1" },
      { role: "user", content: "2" },
      { role: "system", content: "B" },
      { role: "assistant", content: "3" },
    ]),
    {
      system: "A\n\nB",
      turns: [{ role: "user", content: "1\n\n2" }, { role: "assistant", content: "3" }],
    },
  );
});

Deno.test("a max_tokens stop is reported as finish reason length", async () => {
  await using t = await fixture();
  const answer = await t.ai.complete(question, { maxOutputTokens: 4 });
  assert.equal(answer.finishReason, "length");
  assert.equal(answer.usage.outputTokens, 4);
});

Deno.test("a whole answer with a large output cap is asked for, not refused by the SDK", async () => {
  await using t = await fixture({ reply: "Photosynthesis turns light into sugar." });
  const answer = await t.ai.complete(question, { maxOutputTokens: 64_000 });
  assert.equal(answer.text, "Photosynthesis turns light into sugar.");
  assert.equal((t.fake.calls(MESSAGES)[0].body as Record<string, unknown>).max_tokens, 64_000);
});

Deno.test("a 429 with retry-after-ms is waited out, then answered: two upstream calls", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "rate_limit", retryAfterMs: 250 });
  await drainAnswer(t.ai.stream(question));
  const [limited, answered] = t.fake.calls(MESSAGES);
  assert.equal(t.fake.calls(MESSAGES).length, 2);
  assert.ok(answered.at - limited.at >= 250, `retried after ${answered.at - limited.at} ms`);
});

Deno.test("529 overloaded and 500 are retried", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "server_error", status: 529 }, { kind: "server_error" });
  const { error } = await drain(t.ai.stream(question));
  assert.equal(error, undefined);
  assert.deepEqual(t.fake.calls(MESSAGES).map((r) => r.status), [529, 500, 200]);
});

Deno.test("prompt is too long is a context error; low credit is a quota error; neither retried", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "context_too_long" }, { kind: "rate_limit", quota: true });
  expectError((await drain(t.ai.stream(question))).error, AiContextTooLongError);
  const quota = expectError((await drain(t.ai.stream(question))).error, AiRateLimitError);
  assert.equal(quota.quota, true);
  assert.equal(t.fake.calls(MESSAGES).length, 2);
});

Deno.test("an upstream that never answers times out", async () => {
  await using t = await fixture({}, { timeoutMs: 100, retry: { maxAttempts: 1 } });
  t.fake.script({ kind: "hang" });
  const deadline = setTimeout(() => t.fake.close(), 5_000); // fails the test, not hangs it
  expectError((await drain(t.ai.stream(question))).error, AiTimeoutError);
  clearTimeout(deadline);
  assert.equal(await t.fake.calls(MESSAGES)[0].closed, "disconnected");
});

Deno.test("embeddings are not supported by Anthropic, as a typed error", async () => {
  await using t = await fixture();
  const error = await t.ai.embed(["x"]).catch((e) => e);
  expectError(error, AiNotSupportedError);
  assert.equal(t.fake.requests.length, 0);
});
