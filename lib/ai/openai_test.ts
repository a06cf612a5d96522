/**
 * The OpenAI adapter against the fake OpenAI server: streaming, usage (reported and estimated),
 * retries and their waits, every typed failure, timeouts, cut streams, caller aborts, embeddings.
 */
import assert from "node:assert/strict";
import {
  fakeEmbedding,
  fakePromptTokens,
  type FakeStep,
  startFakeOpenAI,
} from "../sandbox/openai.ts";
import { splitDeltas } from "../sandbox/ai_model.ts";
import {
  drain,
  drainAnswer,
  expectError,
  FAST_RETRY,
  providerFixture,
  type ProviderUnderTest,
  questionOf,
  testProviderChecks,
  within,
} from "../../tests/provider_checks.ts";
import {
  AiAbortedError,
  AiBadKeyError,
  AiBadRequestError,
  AiContextTooLongError,
  AiRateLimitError,
  AiTimeoutError,
  AiUpstreamError,
} from "./errors.ts";
import { OpenAiProvider } from "./openai.ts";
import { countTextTokens, estimateTokens } from "./tokens.ts";
import type { StreamOptions } from "./types.ts";

const CHAT = "/v1/chat/completions";
const question = questionOf("What is the capital of Zimbabwe?");
const openai: ProviderUnderTest<Awaited<ReturnType<typeof startFakeOpenAI>>, OpenAiProvider> = {
  start: startFakeOpenAI,
  create: (settings) => new OpenAiProvider(settings),
  model: "gpt-4o-mini",
  path: CHAT,
  question,
  sent: { stream_options: { include_usage: true }, messages: question },
  // The usage chunk comes last, so a cut stream's input count is our estimate.
  cutInputTokens: estimateTokens(question),
};
const fixture = providerFixture(openai);

testProviderChecks(openai);

Deno.test("a server that omits usage gets it counted with gpt-tokenizer and marked estimated", async () => {
  const reply = "Harare, with about 1.5 million people, is the capital of Zimbabwe.";
  await using t = await fixture({ reply, omitUsage: true });
  const { events, error } = await drain(t.ai.stream(question));
  assert.equal(error, undefined);

  const usage = events.at(-1);
  assert.equal(usage?.type, "usage");
  assert.deepEqual(usage, {
    type: "usage",
    inputTokens: estimateTokens(question),
    outputTokens: countTextTokens(reply),
    estimated: true,
    finishReason: "stop",
  });
  // Otherwise this test could not tell the estimate from the fake's own report.
  assert.notEqual(estimateTokens(question), fakePromptTokens(question));
  assert.notEqual(countTextTokens(reply), splitDeltas(reply).length);
});

Deno.test("a whole answer from a server that omits usage is counted locally, marked estimated", async () => {
  const reply = "Harare, with about 1.5 million people, is the capital of Zimbabwe.";
  await using t = await fixture({ reply, omitUsage: true });
  const answer = await t.ai.complete(question);
  assert.deepEqual(answer.usage, {
    inputTokens: estimateTokens(question),
    outputTokens: countTextTokens(reply),
    estimated: true,
  });
  assert.equal((t.fake.calls(CHAT)[0].body as Record<string, unknown>).stream, false);
});

Deno.test("a 429 with retry-after is waited out, then answered: one answer, two upstream calls", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "rate_limit", retryAfter: "1" });
  const { events } = await drainAnswer(t.ai.stream(question));
  assert.equal(events.filter((e) => e.type === "usage").length, 1);

  const [limited, answered] = t.fake.calls(CHAT);
  assert.equal(t.fake.calls(CHAT).length, 2);
  assert.equal(limited.status, 429);
  assert.equal(answered.status, 200);
  assert.ok(answered.at - limited.at >= 1_000, `retried after ${answered.at - limited.at} ms`);
});

Deno.test("retry-after-ms takes precedence over retry-after", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "rate_limit", retryAfter: "30", retryAfterMs: 150 });
  const { error } = await drain(t.ai.stream(question));
  assert.equal(error, undefined);
  const [limited, answered] = t.fake.calls(CHAT);
  const waited = answered.at - limited.at;
  assert.ok(waited >= 150 && waited < 5_000, `retried after ${waited} ms`);
});

Deno.test("a retry-after longer than we accept is not waited for: the error says how long", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "rate_limit", retryAfter: "3600" });
  const { error } = await drain(t.ai.stream(question));
  const limited = expectError(error, AiRateLimitError);
  assert.equal(limited.retryAfterMs, 3_600_000);
  assert.equal(limited.quota, false);
  assert.equal(t.fake.calls(CHAT).length, 1);
});

Deno.test("an exhausted quota is not retried and tells the user to contact support", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "rate_limit", quota: true });
  const { error } = await drain(t.ai.stream(question));
  const quota = expectError(error, AiRateLimitError);
  assert.equal(quota.quota, true);
  assert.equal(quota.retryable, false);
  assert.match(quota.userMessage, /contact support/);
  assert.equal(t.fake.calls(CHAT).length, 1);
});

Deno.test("a 500 is retried and the second attempt answers", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "server_error" });
  await drainAnswer(t.ai.stream(question));
  assert.deepEqual(t.fake.calls(CHAT).map((r) => r.status), [500, 200]);
});

Deno.test("an upstream that keeps failing gives up after maxAttempts with an upstream error", async () => {
  await using t = await fixture();
  const steps: FakeStep[] = [{ kind: "server_error" }, { kind: "server_error", status: 503 }];
  t.fake.script(...steps, { kind: "server_error", status: 502 });
  const { error } = await drain(t.ai.stream(question));
  const down = expectError(error, AiUpstreamError);
  assert.equal(down.status, 502);
  assert.equal(down.attempts, 3);
  assert.equal(
    down.userMessage,
    "I'm having trouble connecting right now. Please try again in a moment.",
  );
  assert.equal(t.fake.calls(CHAT).length, 3);
});

Deno.test("a prompt too long for the context window is its own error, not retried", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "context_too_long" });
  const { error } = await drain(t.ai.stream(question));
  expectError(error, AiContextTooLongError);
  assert.equal(t.fake.calls(CHAT).length, 1);

  // The fake also refuses on its own when the prompt exceeds its window.
  await using small = await fixture({ contextWindow: 5 });
  expectError((await drain(small.ai.stream(question))).error, AiContextTooLongError);
});

Deno.test("another 4xx (unknown parameter, bad model) is a bad request, not retried", async () => {
  await using t = await fixture();
  const { error } = await drain(t.ai.stream([]));
  const bad = expectError(error, AiBadRequestError);
  assert.equal(bad.status, 400);
  assert.equal(t.fake.calls(CHAT).length, 1);
});

Deno.test("an upstream that never answers times out, every attempt, and the fake sees each one closed", async () => {
  await using t = await fixture({}, { timeoutMs: 100, retry: { ...FAST_RETRY, maxAttempts: 2 } });
  t.fake.script({ kind: "hang" }, { kind: "hang" });
  const { error } = await within(5_000, drain(t.ai.stream(question)));
  const timeout = expectError(error, AiTimeoutError);
  assert.equal(timeout.attempts, 2);
  const calls = t.fake.calls(CHAT);
  assert.equal(calls.length, 2);
  assert.deepEqual(await Promise.all(calls.map((c) => c.closed)), ["disconnected", "disconnected"]);
});

Deno.test("a timeout is retried like any passing failure", async () => {
  // Long enough that the retry's own answer never hits it on a busy machine.
  await using t = await fixture({}, { timeoutMs: 1_000 });
  t.fake.script({ kind: "hang" });
  await within(10_000, drainAnswer(t.ai.stream(question)));
  assert.equal(t.fake.calls(CHAT).length, 2);
});

Deno.test("the timeout is a silence limit: a slow first token within it is fine, beyond it is not", async () => {
  await using t = await fixture({ deltaDelayMs: 150 });
  const options: StreamOptions = { timeoutMs: 1_000 };
  t.fake.script({
    kind: "reply",
    firstTokenDelayMs: 400,
    text: "one two three four five six seven",
  });
  // 7 deltas 150 ms apart plus 400 ms: longer than 1 s in total, never silent for 1 s (the
  // margins absorb a busy machine's timer delays).
  const slow = await drain(t.ai.stream(question, options));
  assert.equal(slow.error, undefined);
  assert.equal(slow.deltas.join(""), "one two three four five six seven");

  t.fake.script(
    { kind: "reply", firstTokenDelayMs: 3_000 },
    { kind: "reply", firstTokenDelayMs: 3_000 },
    { kind: "reply", firstTokenDelayMs: 3_000 },
  );
  const late = await within(20_000, drain(t.ai.stream(question, options)));
  expectError(late.error, AiTimeoutError);
});

Deno.test("a stream cut before its first delta is retried", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "cut", afterDeltas: 0 });
  await drainAnswer(t.ai.stream(question));
  assert.equal(t.fake.calls(CHAT).length, 2);
});

Deno.test("an abort while the upstream is silent ends the stream at once, not at the timeout", async () => {
  await using t = await fixture({}, { timeoutMs: 10_000 });
  t.fake.script({ kind: "hang" });
  const controller = new AbortController();
  const pending = drain(t.ai.stream(question, {}, controller.signal));
  while (t.fake.calls(CHAT).length === 0) await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  const { error } = await within(5_000, pending);
  expectError(error, AiAbortedError);
  assert.equal(await t.fake.calls(CHAT)[0].closed, "disconnected");
});

Deno.test("breaking out of the loop also closes the upstream request", async () => {
  await using t = await fixture({ deltaDelayMs: 25 });
  for await (const event of t.ai.stream(question)) {
    if (event.type === "delta") break;
  }
  assert.equal(await t.fake.calls(CHAT)[0].closed, "disconnected");
});

Deno.test("aborting while a retry waits ends at once, without another upstream call", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "rate_limit", retryAfter: "20" });
  const controller = new AbortController();
  const started = performance.now();
  const pending = drain(t.ai.stream(question, {}, controller.signal));
  while (t.fake.calls(CHAT).length === 0) await new Promise((r) => setTimeout(r, 5));
  setTimeout(() => controller.abort(), 50);
  const { error } = await pending;
  expectError(error, AiAbortedError);
  assert.ok(performance.now() - started < 5_000);
  assert.equal(t.fake.calls(CHAT).length, 1);
});

Deno.test("a server that refuses connections is an upstream error after the retries", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const ai = new OpenAiProvider({
    apiKey: "k",
    baseUrl: `http://127.0.0.1:${port}/v1`,
    model: "m",
    retry: { ...FAST_RETRY, maxAttempts: 2 },
  });
  const { error } = await drain(ai.stream(question));
  const down = expectError(error, AiUpstreamError);
  assert.equal(down.attempts, 2);
});

Deno.test("options reach the request: model, temperature and the output cap", async () => {
  await using t = await fixture();
  const answer = await t.ai.complete(question, {
    model: "gpt-4o",
    temperature: 0.3,
    maxOutputTokens: 3,
  });
  const sent = t.fake.calls(CHAT)[0].body as Record<string, unknown>;
  assert.equal(sent.model, "gpt-4o");
  assert.equal(sent.temperature, 0.3);
  // Not api.openai.com, so the classic name that compatible servers know.
  assert.equal(sent.max_tokens, 3);
  assert.equal(answer.finishReason, "length");
  assert.equal(answer.usage.outputTokens, 3);
  assert.equal(splitDeltas(answer.text).length, 3);
});

Deno.test("complete() returns the whole answer and its usage", async () => {
  await using t = await fixture({ reply: "Harare." });
  const answer = await t.ai.complete(question);
  assert.deepEqual(answer, {
    text: "Harare.",
    usage: { inputTokens: fakePromptTokens(question), outputTokens: 2, estimated: false },
    finishReason: "stop",
  });
});

Deno.test("embeddings through the SDK's base64 mode decode to the fake's exact vectors", async () => {
  await using t = await fixture();
  const texts = ["Mhoro, makadii?", "Good morning", "Mhoro, makadii?"];
  const { vectors, usage } = await t.ai.embed(texts);
  assert.equal(
    (t.fake.calls("/v1/embeddings")[0].body as Record<string, unknown>).encoding_format,
    "base64",
  );
  assert.equal(vectors.length, 3);
  for (const [i, text] of texts.entries()) {
    assert.deepEqual(vectors[i], Array.from(fakeEmbedding(text)));
  }
  assert.notDeepEqual(vectors[0], vectors[1]);
  assert.deepEqual(usage, { inputTokens: 4 + 2 + 4, estimated: false });
  assert.deepEqual(await t.ai.embed([]), {
    vectors: [],
    usage: { inputTokens: 0, estimated: false },
  });
});

Deno.test("embeddings are retried on a 500 and fail typed on a bad key", async () => {
  await using t = await fixture();
  t.fake.script({ kind: "server_error" });
  assert.equal((await t.ai.embed(["x"])).vectors.length, 1);
  assert.equal(t.fake.calls("/v1/embeddings").length, 2);

  const ai = new OpenAiProvider({ apiKey: "wrong", baseUrl: t.fake.baseUrl, model: "m" });
  await assert.rejects(ai.embed(["x"]), AiBadKeyError);
});

Deno.test("countTokens is the local estimate for a text or a whole prompt", async () => {
  await using t = await fixture();
  assert.equal(t.ai.countTokens("Hello world"), countTextTokens("Hello world"));
  assert.equal(t.ai.countTokens(question), estimateTokens(question));
});

Deno.test("a server whose event stream carries malformed JSON, or ends without [DONE] and a finish, is an upstream error", async () => {
  const bodies = [
    'data: {"choices":[{"index":0,"delta":{"content":"Ha',
    'data: {"choices":[{"index":0,"delta":{"content":"Harare"}}]}\n\n',
  ];
  let served = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response(`${bodies[served++ % bodies.length]}\n\n`, {
        headers: { "content-type": "text/event-stream" },
      }),
  );
  try {
    const ai = new OpenAiProvider({
      apiKey: "k",
      baseUrl: `http://127.0.0.1:${server.addr.port}/v1`,
      model: "m",
      retry: { ...FAST_RETRY, maxAttempts: 1 },
    });
    const malformed = await drain(ai.stream(question));
    assert.match(expectError(malformed.error, AiUpstreamError).message, /malformed JSON/);
    const short = await drain(ai.stream(question));
    assert.deepEqual(short.deltas, ["Harare"]);
    assert.match(expectError(short.error, AiUpstreamError).message, /ended before/);
  } finally {
    await server.shutdown();
  }
});
