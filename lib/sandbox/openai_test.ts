/**
 * The fake OpenAI server, driven through the official `openai` SDK: if the SDK understands it,
 * the fake speaks the real protocol. Also the cross-check of the scripted failures' wire shape.
 */
import assert from "node:assert/strict";
import OpenAI, { type APIError } from "openai";
import { defaultReply, fakeEmbedding, fakePromptTokens, startFakeOpenAI } from "./openai.ts";
import { splitDeltas } from "./ai_model.ts";
import { rejection } from "../../tests/rejection.ts";
import { readToEnd } from "../../tests/sdk_stream.ts";

const question = [{ role: "user" as const, content: "What is the capital of Zimbabwe?" }];

function sdk(fake: { apiKey: string; baseUrl: string }, maxRetries = 0) {
  return new OpenAI({ apiKey: fake.apiKey, baseURL: fake.baseUrl, maxRetries });
}

Deno.test("the SDK streams the fake's answer in many deltas, with the usage chunk last", async () => {
  await using fake = await startFakeOpenAI();
  const stream = await sdk(fake).chat.completions.create({
    model: "gpt-4o-mini",
    messages: question,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);

  const expected = defaultReply({
    model: "gpt-4o-mini",
    messages: question,
    lastUserMessage: question[0].content,
  });
  const deltas = chunks.map((c) => c.choices[0]?.delta?.content ?? "").filter(Boolean);
  assert.ok(deltas.length > 20, `only ${deltas.length} deltas`);
  assert.equal(deltas.join(""), expected);
  assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, "stop");
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage?.prompt_tokens, fakePromptTokens(question));
  assert.equal(last.usage?.completion_tokens, deltas.length);
  assert.equal(last.usage?.total_tokens, fakePromptTokens(question) + deltas.length);
  assert.ok(chunks.slice(0, -1).every((c) => c.usage === null), "usage only on the last chunk");
  assert.equal(await fake.requests[0].closed, "completed");
});

Deno.test("the fake sends no usage chunk unless asked, nor when told to omit it", async () => {
  await using fake = await startFakeOpenAI({ reply: "Harare." });
  const client = sdk(fake);
  const usages = async (extra: Record<string, unknown>) => {
    const stream = await client.chat.completions.create({
      model: "m",
      messages: question,
      stream: true,
      ...extra,
    });
    const found = [];
    for await (const chunk of stream) if (chunk.usage) found.push(chunk.usage);
    return found;
  };
  assert.equal((await usages({})).length, 0);
  assert.equal((await usages({ stream_options: { include_usage: true } })).length, 1);
  fake.script({ kind: "reply", omitUsage: true });
  assert.equal((await usages({ stream_options: { include_usage: true } })).length, 0);
});

Deno.test("a non-streamed completion carries the whole answer, its usage and finish reason", async () => {
  await using fake = await startFakeOpenAI({ reply: "Harare is the capital of Zimbabwe." });
  const answer = await sdk(fake).chat.completions.create({ model: "m", messages: question });
  assert.equal(answer.object, "chat.completion");
  assert.equal(answer.choices[0].message.content, "Harare is the capital of Zimbabwe.");
  assert.equal(answer.choices[0].finish_reason, "stop");
  assert.equal(answer.usage?.prompt_tokens, fakePromptTokens(question));
  assert.equal(
    answer.usage?.completion_tokens,
    splitDeltas("Harare is the capital of Zimbabwe.").length,
  );
});

Deno.test("max_tokens cuts the answer to that many deltas and finish_reason says length", async () => {
  await using fake = await startFakeOpenAI();
  const answer = await sdk(fake).chat.completions.create({
    model: "m",
    messages: question,
    max_completion_tokens: 4,
  });
  assert.equal(answer.choices[0].finish_reason, "length");
  assert.equal(answer.usage?.completion_tokens, 4);
  assert.equal(splitDeltas(answer.choices[0].message.content ?? "").length, 4);
});

Deno.test("splitDeltas splits any text into small pieces that join back to it exactly", () => {
  for (
    const text of ["", "one", "  lead and trail  ", "Supercalifragilistic word\n\nnext", "a\tb"]
  ) {
    const deltas = splitDeltas(text);
    assert.equal(deltas.join(""), text);
    assert.ok(deltas.every((d) => d.trim().length <= 6), JSON.stringify(deltas));
  }
});

Deno.test("embeddings decode through the SDK's default base64 to the fake's deterministic vectors", async () => {
  await using fake = await startFakeOpenAI();
  const client = sdk(fake);
  const texts = ["mhoro", "hello world"];
  const viaBase64 = await client.embeddings.create({
    model: "text-embedding-3-small",
    input: texts,
  });
  assert.equal(
    (fake.requests[0].body as { encoding_format?: string }).encoding_format,
    "base64",
    "the SDK asks for base64 by default",
  );
  const viaFloat = await client.embeddings.create({
    model: "text-embedding-3-small",
    input: texts,
    encoding_format: "float",
  });
  for (const [i, text] of texts.entries()) {
    const expected = Array.from(fakeEmbedding(text));
    assert.deepEqual(viaBase64.data[i].embedding, expected);
    assert.deepEqual(viaFloat.data[i].embedding, expected);
    assert.ok(Math.abs(Math.hypot(...expected) - 1) < 1e-5, "unit length");
  }
  assert.notDeepEqual(viaBase64.data[0].embedding, viaBase64.data[1].embedding);
  assert.equal(viaBase64.usage.prompt_tokens, 3);

  const small = await client.embeddings.create({ model: "m", input: "x", dimensions: 8 });
  assert.equal(small.data[0].embedding.length, 8);
});

Deno.test("the model list answers in OpenAI's shape", async () => {
  await using fake = await startFakeOpenAI({ models: ["a", "b"] });
  const ids = [];
  for await (const model of sdk(fake).models.list()) ids.push(model.id);
  assert.deepEqual(ids, ["a", "b"]);
});

Deno.test("a wrong key gets OpenAI's 401 error, which the SDK reads as AuthenticationError", async () => {
  await using fake = await startFakeOpenAI();
  const client = new OpenAI({
    apiKey: "sk-wrong-key-123456",
    baseURL: fake.baseUrl,
    maxRetries: 0,
  });
  const error = await rejection(client.chat.completions.create({ model: "m", messages: question }));
  assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
  assert.equal(error.code, "invalid_api_key");
  assert.match(error.message, /Incorrect API key provided: sk-\*+3456/);
  assert.ok(!error.message.includes("sk-wrong-key-123456"), "the key is masked");
});

Deno.test("scripted failures reach the SDK as the errors OpenAI would cause", async () => {
  await using fake = await startFakeOpenAI();
  const client = sdk(fake);
  const ask = () => rejection(client.chat.completions.create({ model: "m", messages: question }));
  fake.script(
    { kind: "rate_limit", retryAfter: "7", retryAfterMs: 6500 },
    { kind: "rate_limit", quota: true },
    { kind: "server_error" },
    { kind: "server_error", status: 503 },
    { kind: "context_too_long" },
  );

  const limited = await ask();
  assert.ok(limited instanceof OpenAI.RateLimitError);
  assert.equal(limited.code, "rate_limit_exceeded");
  assert.equal(limited.headers.get("retry-after"), "7");
  assert.equal(limited.headers.get("retry-after-ms"), "6500");

  const quota = await ask();
  assert.ok(quota instanceof OpenAI.RateLimitError);
  assert.equal(quota.code, "insufficient_quota");

  const down = await ask();
  assert.ok(down instanceof OpenAI.InternalServerError);
  assert.equal(down.status, 500);
  assert.equal(((await ask()) as APIError).status, 503);

  const tooLong = await ask();
  assert.ok(tooLong instanceof OpenAI.BadRequestError);
  assert.equal(tooLong.code, "context_length_exceeded");

  assert.equal(fake.pending, 0);
  assert.ok((await client.chat.completions.create({ model: "m", messages: question })).choices[0]);
});

Deno.test("the SDK's own retry honours the fake's retry-after-ms", async () => {
  await using fake = await startFakeOpenAI();
  fake.script({ kind: "rate_limit", retryAfterMs: 300 });
  const answer = await sdk(fake, 1).chat.completions.create({ model: "m", messages: question });
  assert.ok(answer.choices[0].message.content);
  const [first, second] = fake.calls("/v1/chat/completions");
  assert.equal(first.status, 429);
  assert.equal(second.status, 200);
  assert.ok(second.at - first.at >= 300, `waited ${second.at - first.at} ms`);
});

Deno.test("a stream cut after N deltas gives the SDK N deltas, then a reset, a quiet end or an error event", async () => {
  await using fake = await startFakeOpenAI();
  const client = sdk(fake);
  const read = () =>
    readToEnd(
      () => client.chat.completions.create({ model: "m", messages: question, stream: true }),
      (chunk) => chunk.choices[0]?.delta?.content ?? undefined,
    );

  fake.script({ kind: "cut", afterDeltas: 3 });
  const reset = await read();
  assert.equal(reset.deltas.length, 3);
  assert.ok(reset.error instanceof TypeError, `reset surfaces as ${reset.error}`);
  assert.equal(fake.requests.at(-1)!.outcome, "cut");

  // The SDK hides the missing `[DONE]`: a clean close looks like a normal end to it.
  fake.script({ kind: "cut", afterDeltas: 2, how: "close" });
  const closed = await read();
  assert.equal(closed.deltas.length, 2);
  assert.equal(closed.error, undefined);

  fake.script({ kind: "cut", afterDeltas: 1, how: "error_event" });
  const event = await read();
  assert.equal(event.deltas.length, 1);
  assert.ok(event.error instanceof OpenAI.APIError);
  assert.equal(event.error.status, undefined);
});

Deno.test("a hung request answers nothing and the fake sees the client abort it", async () => {
  await using fake = await startFakeOpenAI();
  fake.script({ kind: "hang" });
  const controller = new AbortController();
  const pending = sdk(fake).chat.completions.create({ model: "m", messages: question }, {
    signal: controller.signal,
  });
  await waitFor(() => fake.requests.length === 1);
  controller.abort();
  assert.ok((await rejection(pending)) instanceof OpenAI.APIUserAbortError);
  assert.equal(await fake.requests[0].closed, "disconnected");
});

Deno.test("closing the fake releases a hung request", async () => {
  const fake = await startFakeOpenAI();
  fake.script({ kind: "hang" });
  const pending = rejection(sdk(fake).chat.completions.create({ model: "m", messages: question }));
  await waitFor(() => fake.requests.length === 1);
  await fake.close();
  assert.equal(await fake.requests[0].closed, "released");
  assert.ok((await pending) instanceof OpenAI.APIError);
});

Deno.test("a client leaving mid-stream is recorded as disconnected, with the deltas sent so far", async () => {
  await using fake = await startFakeOpenAI({ deltaDelayMs: 20 });
  const stream = await sdk(fake).chat.completions.create({
    model: "m",
    messages: question,
    stream: true,
  });
  let seen = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content && ++seen === 3) break;
  }
  assert.equal(await fake.requests[0].closed, "disconnected");
  assert.ok(fake.requests[0].deltasSent < 10, `sent ${fake.requests[0].deltasSent}`);
});

Deno.test("the fake records each request's body and answers bad input in OpenAI's shape", async () => {
  await using fake = await startFakeOpenAI();
  const history = [
    { role: "system" as const, content: "Be brief." },
    { role: "user" as const, content: "Hi" },
    { role: "assistant" as const, content: "Hello!" },
    { role: "user" as const, content: "Bye" },
  ];
  await sdk(fake).chat.completions.create({ model: "m", messages: history, temperature: 0.2 });
  assert.deepEqual((fake.requests[0].body as { messages: unknown }).messages, history);
  assert.equal(fake.requests[0].headers["authorization"], `Bearer ${fake.apiKey}`);

  const post = (path: string, body: string) =>
    fetch(fake.url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.apiKey}`, "content-type": "application/json" },
      body,
    });
  const broken = await post("/v1/chat/completions", "{not json");
  assert.equal(broken.status, 400);
  assert.equal((await broken.json()).error.type, "invalid_request_error");
  const empty = await post("/v1/chat/completions", JSON.stringify({ model: "m", messages: [] }));
  assert.equal((await empty.json()).error.code, "empty_array");
  const unknown = await post("/v1/nowhere", "{}");
  assert.equal(unknown.status, 404);
  assert.match((await unknown.json()).error.message, /Invalid URL/);
});

Deno.test("a prompt beyond the context window is refused like OpenAI does, without a script", async () => {
  await using fake = await startFakeOpenAI({ contextWindow: 10 });
  const error = await rejection(
    sdk(fake).chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "one two three four five six" }],
    }),
  );
  assert.ok(error instanceof OpenAI.BadRequestError);
  assert.equal(error.code, "context_length_exceeded");
});

Deno.test("many concurrent streams are all answered in full", async () => {
  await using fake = await startFakeOpenAI({ deltaDelayMs: 1 });
  const client = sdk(fake);
  const texts = await Promise.all(Array.from({ length: 25 }, async (_, i) => {
    const stream = await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: `question ${i}` }],
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return text;
  }));
  texts.forEach((text, i) => assert.match(text, new RegExp(`"question ${i}"`)));
});

async function waitFor(probe: () => boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}
