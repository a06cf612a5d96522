/**
 * The Anthropic adapter against the fake Anthropic server: the system prompt in `system`, usage
 * from `message_start`/`message_delta`, retries, typed failures, cut streams, caller aborts.
 */
import assert from "node:assert/strict";
import { fakePromptTokens, startFakeAnthropic } from "../sandbox/anthropic.ts";
import { splitDeltas } from "../sandbox/ai_model.ts";
import { testProviderChecks } from "../../tests/provider_checks.ts";
import { AnthropicProvider, splitSystem } from "./anthropic.ts";
import {
  AiAbortedError,
  AiBadKeyError,
  AiContextTooLongError,
  AiError,
  AiNotSupportedError,
  AiRateLimitError,
  AiTimeoutError,
  AiUpstreamError,
} from "./errors.ts";
import { countTextTokens } from "./tokens.ts";
import type { ChatMessage, StreamEvent } from "./types.ts";

const MESSAGES = "/v1/messages";
const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };
const question: ChatMessage[] = [
  { role: "system", content: "You are Hurukuro, a helpful assistant." },
  { role: "user", content: "Explain photosynthesis in one sentence." },
];

async function fixture(
  options: Parameters<typeof startFakeAnthropic>[0] = {},
  provider: Partial<ConstructorParameters<typeof AnthropicProvider>[0]> = {},
) {
  const fake = await startFakeAnthropic(options);
  const ai = new AnthropicProvider({
    apiKey: fake.apiKey,
    baseUrl: fake.baseUrl,
    model: "claude-haiku-4-5",
    timeoutMs: 2_000,
    retry: FAST_RETRY,
    ...provider,
  });
  return { fake, ai, [Symbol.asyncDispose]: () => fake.close() };
}

async function drain(events: AsyncIterable<StreamEvent>) {
  const seen: StreamEvent[] = [];
  let error: unknown;
  try {
    for await (const event of events) seen.push(event);
  } catch (thrown) {
    error = thrown;
  }
  return { events: seen, deltas: seen.flatMap((e) => e.type === "delta" ? [e.text] : []), error };
}

function expectError<T extends AiError>(
  error: unknown,
  type: abstract new (...args: never[]) => T,
): T {
  assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
  return error;
}

Deno.test("deltas arrive in order and the usage record comes last with the fake's counts", async () => {
  const reply = "Plants use sunlight to turn water and carbon dioxide into sugar.";
  await using t = await fixture({ reply });
  const { events, deltas, error } = await drain(t.ai.stream(question));
  assert.equal(error, undefined);
  assert.deepEqual(deltas, splitDeltas(reply));
  assert.equal(events.filter((e) => e.type === "usage").length, 1);
  assert.deepEqual(events.at(-1), {
    type: "usage",
    inputTokens: fakePromptTokens(question),
    outputTokens: splitDeltas(reply).length,
    estimated: false,
    finishReason: "stop",
  });
});

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
  assert.equal(sent.stream, true);
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

Deno.test("a 429 with retry-after-ms is waited out, then answered: two upstream calls", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "rate_limit", retryAfterMs: 250 });
  const { deltas, error } = await drain(t.ai.stream(question));
  assert.equal(error, undefined);
  assert.ok(deltas.length > 0);
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

Deno.test("a wrong key is a BadKey error without a retry", async () => {
  await using t = await fixture();
  const ai = new AnthropicProvider({
    apiKey: "sk-ant-wrong",
    baseUrl: t.fake.baseUrl,
    model: "claude-haiku-4-5",
    retry: FAST_RETRY,
  });
  expectError((await drain(ai.stream(question))).error, AiBadKeyError);
  assert.equal(t.fake.calls(MESSAGES).length, 1);
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

testProviderChecks(fixture, MESSAGES, question);

Deno.test("a stream cut mid-answer yields the partial deltas, then an error, and is not retried", async () => {
  await using t = await fixture({ reply: "one two three four five six seven eight" });
  for (const how of ["reset", "close", "error_event"] as const) {
    const before = t.fake.calls(MESSAGES).length;
    t.fake.script({ kind: "cut", afterDeltas: 3, how });
    const { events, deltas, error } = await drain(t.ai.stream(question));
    assert.deepEqual(deltas, ["one", " two", " three"], how);
    assert.ok(!events.some((e) => e.type === "usage"), how);
    const cut = expectError(error, AiUpstreamError);
    // The input count is the upstream's own (message_start came), the output is ours.
    assert.deepEqual(cut.partialUsage, {
      inputTokens: fakePromptTokens(question),
      outputTokens: countTextTokens("one two three"),
      estimated: true,
    }, how);
    assert.equal(t.fake.calls(MESSAGES).length, before + 1, how);
  }
});

Deno.test("aborting from the caller stops the upstream request: the fake sees the connection close", async () => {
  await using t = await fixture({ deltaDelayMs: 25 });
  const controller = new AbortController();
  let deltas = 0;
  let error: unknown;
  try {
    for await (const event of t.ai.stream(question, {}, controller.signal)) {
      if (event.type === "delta" && ++deltas === 2) controller.abort();
    }
  } catch (thrown) {
    error = thrown;
  }
  expectError(error, AiAbortedError);
  assert.equal(deltas, 2);
  assert.equal(await t.fake.calls(MESSAGES)[0].closed, "disconnected");
});

Deno.test("embeddings are not supported by Anthropic, as a typed error", async () => {
  await using t = await fixture();
  const error = await t.ai.embed(["x"]).catch((e) => e);
  expectError(error, AiNotSupportedError);
  assert.equal(t.fake.requests.length, 0);
});
