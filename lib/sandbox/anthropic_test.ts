/**
 * The fake Anthropic server, driven through the official `@anthropic-ai/sdk` (raw events, the
 * `messages.stream()` helper that rebuilds a message from them, errors, token counting): if the
 * SDK understands it, the fake speaks the real protocol.
 */
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { defaultReply, fakePromptTokens, startFakeAnthropic } from "./anthropic.ts";
import { splitDeltas } from "./ai_model.ts";
import { rejection } from "../../tests/rejection.ts";
import { readToEnd } from "../../tests/sdk_stream.ts";

const system = "You are a helpful assistant for Zimbabwean students.";
const question = [{ role: "user" as const, content: "Explain photosynthesis briefly." }];
const conversation = [{ role: "system", content: system }, ...question];

function sdk(fake: { apiKey: string; baseUrl: string }, maxRetries = 0) {
  return new Anthropic({ apiKey: fake.apiKey, baseURL: fake.baseUrl, maxRetries });
}

Deno.test("the SDK receives the real event sequence, with input tokens first and output tokens last", async () => {
  await using fake = await startFakeAnthropic();
  const stream = await sdk(fake).messages.create({
    model: "claude-haiku-4-5",
    max_tokens: 1024,
    system,
    messages: question,
    stream: true,
  });
  const events = [];
  for await (const event of stream) events.push(event);

  const types = events.map((e) => e.type);
  const deltas = events.filter((e) => e.type === "content_block_delta").length;
  assert.deepEqual(types, [
    "message_start",
    "content_block_start",
    ...Array(deltas).fill("content_block_delta"),
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  assert.ok(deltas > 20, `only ${deltas} deltas`);
  const start = events[0] as Anthropic.RawMessageStartEvent;
  assert.equal(start.message.usage.input_tokens, fakePromptTokens(conversation));
  const end = events.at(-2) as Anthropic.RawMessageDeltaEvent;
  assert.equal(end.usage.output_tokens, deltas);
  assert.equal(end.delta.stop_reason, "end_turn");
  const text = events.map((e) =>
    e.type === "content_block_delta" && e.delta.type === "text_delta" ? e.delta.text : ""
  ).join("");
  assert.equal(
    text,
    defaultReply({ model: "m", messages: conversation, lastUserMessage: question[0].content }),
  );
  assert.ok(fake.requests[0].headers["anthropic-version"], "the SDK sends anthropic-version");
  // SDK 1.x sends the key as a bearer token, not x-api-key; the fake accepts both.
  assert.equal(fake.requests[0].headers["authorization"], `Bearer ${fake.apiKey}`);
});

Deno.test("the SDK's stream helper rebuilds the whole message from the fake's events", async () => {
  await using fake = await startFakeAnthropic({ reply: "Plants turn light into sugar." });
  const message = await sdk(fake).messages.stream({
    model: "claude-haiku-4-5",
    max_tokens: 100,
    messages: question,
  }).finalMessage();
  assert.deepEqual(
    message.content.map((b) => b.type === "text" ? b.text : ""),
    ["Plants turn light into sugar."],
  );
  assert.equal(message.stop_reason, "end_turn");
  assert.equal(message.usage.input_tokens, fakePromptTokens(question));
  assert.equal(message.usage.output_tokens, splitDeltas("Plants turn light into sugar.").length);
});

Deno.test("a non-streamed message carries the text, usage and a max_tokens stop", async () => {
  await using fake = await startFakeAnthropic();
  const message = await sdk(fake).messages.create({
    model: "claude-haiku-4-5",
    max_tokens: 5,
    messages: question,
  });
  assert.equal(message.type, "message");
  assert.equal(message.stop_reason, "max_tokens");
  assert.equal(message.usage.output_tokens, 5);
  const block = message.content[0];
  assert.equal(block.type === "text" && splitDeltas(block.text).length, 5);
});

Deno.test("token counting and the model list answer through the SDK", async () => {
  await using fake = await startFakeAnthropic({ models: ["claude-a", "claude-b"] });
  const client = sdk(fake);
  const counted = await client.messages.countTokens({
    model: "claude-a",
    system,
    messages: question,
  });
  assert.equal(counted.input_tokens, fakePromptTokens(conversation));
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.deepEqual(ids, ["claude-a", "claude-b"]);
});

Deno.test("a wrong key gets Anthropic's authentication_error, which the SDK reads as such", async () => {
  await using fake = await startFakeAnthropic();
  const client = new Anthropic({ apiKey: "sk-ant-wrong", baseURL: fake.baseUrl, maxRetries: 0 });
  const error = await rejection(
    client.messages.create({ model: "m", max_tokens: 10, messages: question }),
  );
  assert.ok(error instanceof Anthropic.AuthenticationError, String(error));
  assert.equal(error.type, "authentication_error");
  assert.match(error.requestID ?? "", /^req_/);
});

Deno.test("the fake insists on the headers and fields Anthropic insists on", async () => {
  await using fake = await startFakeAnthropic();
  const post = (headers: Record<string, string>, body: unknown) =>
    fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const ok = { model: "m", max_tokens: 10, messages: question };
  const key = { "x-api-key": fake.apiKey };
  const version = { "anthropic-version": "2023-06-01" };

  const noKey = await post(version, ok);
  assert.equal(noKey.status, 401);
  assert.deepEqual(Object.keys(noKey.body).sort(), ["error", "request_id", "type"]);
  assert.equal(noKey.body.type, "error");

  const noVersion = await post(key, ok);
  assert.equal(noVersion.status, 400);
  assert.match(noVersion.body.error.message, /anthropic-version/);

  const systemRole = await post({ ...key, ...version }, {
    ...ok,
    messages: [{ role: "system", content: "x" }, ...question],
  });
  assert.equal(systemRole.status, 400);
  assert.match(systemRole.body.error.message, /top-level `system`/);

  const noMax = await post({ ...key, ...version }, { model: "m", messages: question });
  assert.match(noMax.body.error.message, /max_tokens/);

  assert.equal((await post({ ...key, ...version }, ok)).status, 200);
});

Deno.test("scripted failures reach the SDK as the errors Anthropic would cause", async () => {
  await using fake = await startFakeAnthropic();
  const client = sdk(fake);
  const ask = () =>
    rejection(client.messages.create({ model: "m", max_tokens: 10, messages: question }));
  fake.script(
    { kind: "rate_limit", retryAfter: "12" },
    { kind: "server_error", status: 529 },
    { kind: "server_error" },
    { kind: "context_too_long" },
    { kind: "rate_limit", quota: true },
  );

  const limited = await ask();
  assert.ok(limited instanceof Anthropic.RateLimitError);
  assert.equal(limited.type, "rate_limit_error");
  assert.equal(limited.headers?.get("retry-after"), "12");

  const overloaded = await ask() as InstanceType<typeof Anthropic.APIError>;
  assert.equal(overloaded.status, 529);
  assert.equal(overloaded.type, "overloaded_error");

  const down = await ask();
  assert.ok(down instanceof Anthropic.InternalServerError);
  assert.equal(down.type, "api_error");

  const tooLong = await ask();
  assert.ok(tooLong instanceof Anthropic.BadRequestError);
  assert.match(tooLong.apiMessage ?? "", /prompt is too long/);

  const billing = await ask() as InstanceType<typeof Anthropic.APIError>;
  assert.equal(billing.type, "billing_error");
});

Deno.test("a stream cut mid-answer gives the SDK the deltas so far, then a reset or an error event", async () => {
  await using fake = await startFakeAnthropic();
  const client = sdk(fake);
  const read = () =>
    readToEnd(
      () =>
        client.messages.create({ model: "m", max_tokens: 100, messages: question, stream: true }),
      (event) =>
        event.type === "content_block_delta" && event.delta.type === "text_delta"
          ? event.delta.text
          : undefined,
    );
  fake.script({ kind: "cut", afterDeltas: 4 });
  const reset = await read();
  assert.equal(reset.deltas.length, 4);
  assert.ok(reset.error instanceof Error, "a reset surfaces as an error");

  fake.script({ kind: "cut", afterDeltas: 2, how: "error_event" });
  const event = await read();
  assert.equal(event.deltas.length, 2);
  assert.ok(event.error instanceof Anthropic.APIError);
  assert.equal(event.error.type, "overloaded_error");
});

Deno.test("a hung request is seen to close when the SDK aborts it", async () => {
  await using fake = await startFakeAnthropic();
  fake.script({ kind: "hang" });
  const controller = new AbortController();
  const pending = sdk(fake).messages.create(
    { model: "m", max_tokens: 10, messages: question },
    { signal: controller.signal },
  );
  while (fake.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  assert.ok((await rejection(pending)) instanceof Anthropic.APIUserAbortError);
  assert.equal(await fake.requests[0].closed, "disconnected");
});
