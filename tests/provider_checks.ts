/**
 * Checks every AI provider must pass against its fake, registered as tests by lib/ai/*_test.ts
 * through {@link testProviderChecks}, and what those files share to drive a provider.
 */
import assert from "node:assert/strict";
import {
  AiAbortedError,
  AiBadKeyError,
  AiError,
  AiTimeoutError,
  AiUpstreamError,
} from "../lib/ai/errors.ts";
import type { ProviderSettings } from "../lib/ai/provider.ts";
import { countTextTokens } from "../lib/ai/tokens.ts";
import type { AiProvider, ChatMessage, StreamEvent } from "../lib/ai/types.ts";
import { type FakeModelOptions, type FakeServer, untilAnswered } from "../lib/sandbox/ai_common.ts";
import { fakePromptTokens, splitDeltas } from "../lib/sandbox/ai_model.ts";
import { collectGarbage } from "./gc.ts";

/** The error that ended `events` within `ms`, or a failure if it did not end (never a hang). */
function endingError(events: AsyncIterable<unknown>, ms: number): Promise<unknown> {
  const run = (async () => {
    for await (const _ of events) continue;
  })().then(() => undefined, (error: unknown) => error);
  return within(ms, run);
}

/**
 * The upstream has sent its head and thinks (its first token is a minute away): after garbage
 * collections, `ai`'s silence limit (400 ms) still ends one call and an abort another, and the
 * fake sees both closed. Deno lets go of what cancels a response body once its `Response` is
 * garbage (lib/ai/fetch.ts, READ_THROUGH); without that, both calls would wait for good.
 * `fake` must delay its first token by far more than the check's 5 s.
 */
async function checkSilentStreamEnds(
  ai: AiProvider,
  fake: FakeServer,
  path: string,
  question: ChatMessage[],
): Promise<void> {
  const timedOut = ai.stream(question, { timeoutMs: 400 });
  const timedOutError = endingError(timedOut, 5_000);
  await untilAnswered(fake, path, 1);
  await collectGarbage();
  assert.ok(await timedOutError instanceof AiTimeoutError, "the silence limit ended the call");
  assert.equal(await fake.calls(path)[0].closed, "disconnected");

  const controller = new AbortController();
  const abortedError = endingError(
    ai.stream(question, { timeoutMs: 10_000 }, controller.signal),
    2_000,
  );
  await untilAnswered(fake, path, 2);
  await collectGarbage();
  controller.abort();
  assert.ok(await abortedError instanceof AiAbortedError, "the abort ended the call");
  assert.equal(await fake.calls(path)[1].closed, "disconnected");
}

/**
 * `onRequestSent` is called once per attempt, as the request is handed over: before the fake
 * has seen it (the fake runs in this process, so it cannot have read a request `fetch` was
 * given synchronously before). A 500 then an answer: called twice, with 0 and 1 earlier calls.
 * Both SDKs must carry the notice through their `fetchOptions` to our `fetch` (lib/ai/fetch.ts).
 */
async function checkRequestSentNotice(
  ai: AiProvider,
  fake: FakeServer,
  path: string,
  question: ChatMessage[],
): Promise<void> {
  fake.script({ kind: "server_error" });
  const seenByFake: number[] = [];
  const onRequestSent = () => seenByFake.push(fake.calls(path).length);
  const answer = await ai.complete(question, { onRequestSent });
  assert.ok(answer.text.length > 0);
  assert.equal(fake.calls(path).length, 2);
  assert.deepEqual(seenByFake, [0, 1]);
}

/** The conversation a provider's tests ask: Hurukuro's system prompt, then `text` from the user. */
export function questionOf(text: string): ChatMessage[] {
  return [
    { role: "system", content: "You are Hurukuro, a helpful assistant." },
    { role: "user", content: text },
  ];
}

/** The fake's answer in the checks of a whole answer, streamed or not. */
const REPLY = "Harare is the capital of Zimbabwe; plants turn sunlight into sugar.";

/** The usage the fake reports for answering `question` with `reply`. */
const fakeUsage = (question: ChatMessage[], reply: string) => ({
  inputTokens: fakePromptTokens(question),
  outputTokens: splitDeltas(reply).length,
  estimated: false,
});

/** Quick retries, so that tests of retrying do not wait for production back-offs. */
export const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };

/** Every event, the delta texts, and the error that ended the stream if one did. */
export async function drain(
  events: AsyncIterable<StreamEvent>,
): Promise<{ events: StreamEvent[]; deltas: string[]; error?: unknown }> {
  const seen: StreamEvent[] = [];
  let error: unknown;
  try {
    for await (const event of events) seen.push(event);
  } catch (thrown) {
    error = thrown;
  }
  return { events: seen, deltas: seen.flatMap((e) => e.type === "delta" ? [e.text] : []), error };
}

/** {@link drain}, asserting that the stream answered: deltas, and no error. */
export async function drainAnswer(events: AsyncIterable<StreamEvent>) {
  const drained = await drain(events);
  assert.equal(drained.error, undefined);
  assert.ok(drained.deltas.length > 0, "an answer");
  return drained;
}

/** Fails the test instead of hanging it when a broken timeout or abort never fires. */
export async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** `error`, asserted to be of `type`. */
export function expectError<T extends AiError>(
  error: unknown,
  type: abstract new (...args: never[]) => T,
): T {
  assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
  return error;
}

/** A fake upstream as lib/sandbox/{openai,anthropic}.ts start them. */
type Fake = FakeServer & { apiKey: string; baseUrl: string };

/** One provider and its fake, as lib/ai/*_test.ts describe them to the shared checks. */
export interface ProviderUnderTest<F extends Fake, P extends AiProvider> {
  start: (options?: FakeModelOptions) => Promise<F>;
  create: (settings: ProviderSettings) => P;
  model: string;
  /** The fake's answer route. */
  path: string;
  question: ChatMessage[];
  /** Fields of the request body the provider sends for `question` (the rest is its own). */
  sent: Record<string, unknown>;
  /**
   * The input tokens a stream cut mid-answer reports: the upstream's own count where it comes
   * before the first delta (Anthropic's message_start), else our estimate.
   */
  cutInputTokens: number;
}

/** A provider against a fresh fake, both closed when the test's `await using` ends. */
export function providerFixture<F extends Fake, P extends AiProvider>(
  p: ProviderUnderTest<F, P>,
) {
  return async (fakeOptions: FakeModelOptions = {}, settings: Partial<ProviderSettings> = {}) => {
    const fake = await p.start(fakeOptions);
    const ai = p.create({
      apiKey: fake.apiKey,
      baseUrl: fake.baseUrl,
      model: p.model,
      timeoutMs: 2_000,
      retry: FAST_RETRY,
      ...settings,
    });
    return { fake, ai, [Symbol.asyncDispose]: () => fake.close() };
  };
}

/**
 * Registers the checks every provider must pass as tests of one provider: the stream's shape
 * and usage, a wrong key, a stream cut mid-answer, a caller's abort, and the checks above.
 */
export function testProviderChecks<F extends Fake, P extends AiProvider>(
  p: ProviderUnderTest<F, P>,
): void {
  const fixture = providerFixture(p);
  const { path, question } = p;

  Deno.test("deltas arrive in order and the usage record comes last with the fake's counts", async () => {
    await using t = await fixture({ reply: REPLY });
    const { events, deltas, error } = await drain(t.ai.stream(question));
    assert.equal(error, undefined);
    assert.deepEqual(deltas, splitDeltas(REPLY));
    assert.equal(events.filter((e) => e.type === "usage").length, 1);
    assert.deepEqual(events.at(-1), {
      type: "usage",
      ...fakeUsage(question, REPLY),
      finishReason: "stop",
    });
    const sent = t.fake.calls(path)[0].body as Record<string, unknown>;
    for (const [field, value] of Object.entries(p.sent)) {
      assert.deepEqual(sent[field], value, field);
    }
  });

  Deno.test("a wrong key is a BadKey error at once, without a retry", async () => {
    await using t = await fixture({}, { apiKey: "sk-not-the-right-one" });
    const badKey = expectError((await drain(t.ai.stream(question))).error, AiBadKeyError);
    assert.equal(badKey.status, 401);
    assert.equal(badKey.retryable, false);
    assert.doesNotMatch(badKey.userMessage, /key|401/i);
    assert.equal(t.fake.calls(path).length, 1);
  });

  Deno.test("a stream cut mid-answer yields the partial deltas, then an error, and is not retried", async () => {
    await using t = await fixture({ reply: "one two three four five six seven eight" });
    for (const how of ["reset", "close", "error_event"] as const) {
      const before = t.fake.calls(path).length;
      t.fake.script({ kind: "cut", afterDeltas: 3, how });
      const { events, deltas, error } = await drain(t.ai.stream(question));
      assert.deepEqual(deltas, ["one", " two", " three"], how);
      assert.ok(!events.some((e) => e.type === "usage"), `${how}: no usage record`);
      const cut = expectError(error, AiUpstreamError);
      assert.deepEqual(cut.partialUsage, {
        inputTokens: p.cutInputTokens,
        outputTokens: countTextTokens("one two three"),
        estimated: true,
      }, how);
      assert.equal(t.fake.calls(path).length, before + 1, `${how}: one upstream call`);
    }
  });

  Deno.test("aborting from the caller stops the upstream request: the fake sees the connection close", async () => {
    await using t = await fixture({ deltaDelayMs: 25 });
    const controller = new AbortController();
    const seen: string[] = [];
    let error: unknown;
    try {
      for await (const event of t.ai.stream(question, {}, controller.signal)) {
        if (event.type === "delta") seen.push(event.text);
        if (seen.length === 3) controller.abort();
      }
    } catch (thrown) {
      error = thrown;
    }
    const aborted = expectError(error, AiAbortedError);
    assert.equal(seen.length, 3);
    assert.equal(aborted.partialUsage?.outputTokens, countTextTokens(seen.join("")));
    const [call] = t.fake.calls(path);
    assert.equal(await call.closed, "disconnected");
    assert.ok(call.deltasSent < 10, `the fake went on to send ${call.deltasSent} deltas`);
    assert.equal(t.fake.calls(path).length, 1);
  });

  Deno.test("the caller hears when each attempt's request is handed to the network", async () => {
    await using t = await fixture();
    await checkRequestSentNotice(t.ai, t.fake, path, question);
  });
  Deno.test("after a garbage collection, the silence limit and an abort still end a stream whose first token is far off", async () => {
    await using t = await fixture({ firstTokenDelayMs: 60_000 }, { retry: { maxAttempts: 1 } });
    await checkSilentStreamEnds(t.ai, t.fake, path, question);
  });
  testWholeAnswerChecks(fixture, p);
}

/** What a failed `complete` threw (a failure of the test if it answered). */
async function completeError(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(() => assert.fail("expected an error"), (error: unknown) => error);
}

/**
 * `complete`: one non-streaming request per attempt (no event stream), with the same usage,
 * retries, deadline, abort and error classification as a stream.
 */
function testWholeAnswerChecks(
  fixture: ReturnType<typeof providerFixture<Fake, AiProvider>>,
  { path, question }: { path: string; question: ChatMessage[] },
): void {
  Deno.test("a whole answer is one non-streaming request, with the fake's usage and finish reason", async () => {
    await using t = await fixture({ reply: REPLY });
    const answer = await t.ai.complete(question);
    assert.deepEqual(answer, {
      text: REPLY,
      usage: fakeUsage(question, REPLY),
      finishReason: "stop",
    });
    const [call] = t.fake.calls(path);
    const sent = call.body as Record<string, unknown>;
    assert.equal(sent.stream, false, "asked for the whole answer at once");
    assert.equal(sent.stream_options, undefined);
    assert.equal(t.fake.calls(path).length, 1);
    const capped = await t.ai.complete(question, { maxOutputTokens: 2 });
    assert.equal(capped.finishReason, "length");
    assert.equal(capped.usage.outputTokens, 2);
  });

  Deno.test("a whole answer: a 429 is waited out and a 5xx retried, then answered", async () => {
    await using t = await fixture();
    t.fake.script({ kind: "rate_limit", retryAfterMs: 150 }, { kind: "server_error" });
    const answer = await t.ai.complete(question);
    assert.ok(answer.text.length > 0);
    const calls = t.fake.calls(path);
    assert.deepEqual(calls.map((c) => c.status), [429, 500, 200]);
    assert.ok(calls[1].at - calls[0].at >= 150, `retried after ${calls[1].at - calls[0].at} ms`);
  });

  Deno.test("a whole answer: 5xx until the attempts run out is an upstream error saying how many", async () => {
    await using t = await fixture({}, { retry: { ...FAST_RETRY, maxAttempts: 2 } });
    t.fake.script({ kind: "server_error", status: 503 }, { kind: "server_error", status: 502 });
    const down = expectError(await completeError(t.ai.complete(question)), AiError);
    assert.equal(down.retryable, true);
    assert.equal(down.status, 502);
    assert.equal(down.attempts, 2);
    assert.equal(t.fake.calls(path).length, 2);
  });

  Deno.test("a whole answer: a wrong key is a BadKey error at once, without a retry", async () => {
    await using t = await fixture({}, { apiKey: "sk-not-the-right-one" });
    expectError(await completeError(t.ai.complete(question)), AiBadKeyError);
    assert.equal(t.fake.calls(path).length, 1);
  });

  Deno.test("a whole answer cut short is an upstream error, retried: no half answer is returned", async () => {
    const reply = "one two three four five six seven eight";
    await using t = await fixture({ reply });
    t.fake.script({ kind: "cut", afterDeltas: 3, how: "close" });
    const answer = await t.ai.complete(question);
    assert.equal(answer.text, reply);
    assert.equal(t.fake.calls(path).length, 2);
  });

  Deno.test("a whole answer that does not come within the limit times out and the request is closed", async () => {
    await using t = await fixture({}, { timeoutMs: 150, retry: { maxAttempts: 1 } });
    t.fake.script({ kind: "hang" });
    const error = await within(5_000, completeError(t.ai.complete(question)));
    assert.equal(expectError(error, AiTimeoutError).attempts, 1);
    assert.equal(await t.fake.calls(path)[0].closed, "disconnected");
  });

  Deno.test("a whole answer: aborting from the caller stops the request", async () => {
    await using t = await fixture({ firstTokenDelayMs: 60_000 });
    const controller = new AbortController();
    const failed = within(5_000, completeError(t.ai.complete(question, {}, controller.signal)));
    while (t.fake.calls(path).length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expectError(await failed, AiAbortedError);
    assert.equal(await t.fake.calls(path)[0].closed, "disconnected");
    assert.equal(t.fake.calls(path).length, 1);
  });
}
