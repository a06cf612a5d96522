/**
 * Checks every AI provider must pass against its fake, registered as tests by lib/ai/*_test.ts
 * through {@link testProviderChecks}.
 */
import assert from "node:assert/strict";
import { AiAbortedError, AiTimeoutError } from "../lib/ai/errors.ts";
import type { AiProvider, ChatMessage } from "../lib/ai/types.ts";
import { type FakeServer, untilAnswered } from "../lib/sandbox/ai_common.ts";
import { collectGarbage } from "./gc.ts";

/** The error that ended `events` within `ms`, or a failure if it did not end (never a hang). */
async function endingError(events: AsyncIterable<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = (async () => {
    for await (const _ of events) continue;
  })().then(() => undefined, (error: unknown) => error);
  try {
    return await Promise.race([
      run,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
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

/** A provider under test against its fake, as lib/ai/*_test.ts make them. */
export type ProviderFixture = (
  fake?: { firstTokenDelayMs?: number },
  provider?: { retry?: { maxAttempts?: number } },
) => Promise<{ ai: AiProvider; fake: FakeServer } & AsyncDisposable>;

/** Registers the checks above as tests of one provider, `path` being its fake's answer route. */
export function testProviderChecks(
  fixture: ProviderFixture,
  path: string,
  question: ChatMessage[],
): void {
  Deno.test("the caller hears when each attempt's request is handed to the network", async () => {
    await using t = await fixture();
    await checkRequestSentNotice(t.ai, t.fake, path, question);
  });
  Deno.test("after a garbage collection, the silence limit and an abort still end a stream whose first token is far off", async () => {
    await using t = await fixture({ firstTokenDelayMs: 60_000 }, { retry: { maxAttempts: 1 } });
    await checkSilentStreamEnds(t.ai, t.fake, path, question);
  });
}
