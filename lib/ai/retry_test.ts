import assert from "node:assert/strict";
import { AiAbortedError, AiBadKeyError, AiRateLimitError, AiUpstreamError } from "./errors.ts";
import { backoffDelay, DEFAULT_RETRY, retryDelay, sleep, withRetry } from "./retry.ts";

const settings = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 5_000 };

Deno.test("backoff doubles per retry up to its ceiling, with at most 25 % jitter off", () => {
  const none = () => 0;
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n, settings, none)), [
    100,
    200,
    400,
    800,
    1_000,
  ]);
  assert.equal(backoffDelay(1, settings, () => 0.999), 75);
});

Deno.test("retryDelay honours retry-after, gives up on final errors, spent attempts and long waits", () => {
  const limited = new AiRateLimitError("429", false, { retryAfterMs: 1_234 });
  assert.equal(retryDelay(limited, 1, settings), 1_234);
  assert.equal(retryDelay(limited, 3, settings), undefined, "attempts spent");
  const tooLong = new AiRateLimitError("429", false, { retryAfterMs: 60_000 });
  assert.equal(retryDelay(tooLong, 1, settings), undefined);
  assert.equal(retryDelay(new AiBadKeyError("401"), 1, settings), undefined);
  assert.equal(retryDelay(new AiRateLimitError("quota", true), 1, settings), undefined);
  const down = retryDelay(new AiUpstreamError("500"), 2, settings);
  assert.ok(down !== undefined && down >= 150 && down <= 200, String(down));
});

Deno.test("the default settings retry twice and wait at most 30 s for a retry-after", () => {
  assert.equal(DEFAULT_RETRY.maxAttempts, 3);
  assert.equal(DEFAULT_RETRY.maxRetryAfterMs, 30_000);
});

Deno.test("sleep ends early, as an abort, when its signal aborts", async () => {
  const controller = new AbortController();
  const started = performance.now();
  const pending = sleep(10_000, controller.signal);
  setTimeout(() => controller.abort(), 10);
  await assert.rejects(pending, AiAbortedError);
  assert.ok(performance.now() - started < 5_000);
  await assert.rejects(sleep(10, controller.signal), AiAbortedError);
});

Deno.test("withRetry runs again after a passing failure and records the attempts of a final one", async () => {
  let calls = 0;
  const value = await withRetry(
    () => ++calls < 3 ? Promise.reject(new AiUpstreamError("down")) : Promise.resolve("ok"),
    (e) => e as AiUpstreamError,
    { ...settings, baseDelayMs: 1 },
  );
  assert.equal(value, "ok");
  assert.equal(calls, 3);

  calls = 0;
  const error = await withRetry(
    () => (calls++, Promise.reject(new AiBadKeyError("401"))),
    (e) => e as AiBadKeyError,
    settings,
  ).catch((e) => e);
  assert.ok(error instanceof AiBadKeyError);
  assert.equal(error.attempts, 1);
  assert.equal(calls, 1);
});
