import assert from "node:assert/strict";
import * as errors from "./errors.ts";

type HttpFailure = Partial<Parameters<typeof errors.errorFromHttp>[0]>;
const http = (status: number, extra: HttpFailure = {}) =>
  errors.errorFromHttp({
    status,
    message: `upstream said ${status}`,
    provider: "openai",
    ...extra,
  });

Deno.test("each HTTP failure maps to its typed error", () => {
  const expected: [number, abstract new (...args: never[]) => errors.AiError, HttpFailure?][] = [
    [401, errors.AiBadKeyError],
    [403, errors.AiBadKeyError],
    [429, errors.AiRateLimitError],
    [500, errors.AiUpstreamError],
    [503, errors.AiUpstreamError],
    [529, errors.AiUpstreamError],
    [408, errors.AiUpstreamError],
    [400, errors.AiBadRequestError],
    [404, errors.AiBadRequestError],
    [400, errors.AiContextTooLongError, { contextTooLong: true }],
  ];
  for (const [status, type, extra] of expected) {
    assert.ok(
      http(status, extra) instanceof type,
      `${status} ${JSON.stringify(extra)}: ${type.name}`,
    );
  }
});

Deno.test("a quota error is a rate limit that is not retryable, whatever its status", () => {
  const quota = http(400, { quota: true });
  assert.ok(quota instanceof errors.AiRateLimitError);
  assert.equal(quota.quota, true);
  assert.equal(quota.retryable, false);
  assert.equal(http(429).retryable, true);
});

Deno.test("errors keep the upstream's status and retry-after, and a code for logs and clients", () => {
  const error = http(429, { retryAfterMs: 2_000 });
  assert.equal(error.status, 429);
  assert.equal(error.retryAfterMs, 2_000);
  assert.equal(error.code, "rate_limited");
  assert.equal(error.name, "AiRateLimitError");
  assert.equal(error.provider, "openai");
});

Deno.test("user messages are plain words and never the upstream's text", () => {
  assert.equal(
    http(503).userMessage,
    "I'm having trouble connecting right now. Please try again in a moment.",
  );
  assert.equal(
    http(429).userMessage,
    "I'm receiving a lot of messages. Please wait a moment before sending another.",
  );
  assert.equal(
    http(401).userMessage,
    "The service is temporarily unavailable. Please contact support.",
  );
  assert.equal(new errors.AiTimeoutError("x").userMessage, errors.USER_MESSAGES.timeout);
  for (const status of [400, 401, 429, 500]) {
    assert.ok(!http(status).userMessage.includes("upstream said"));
  }
});
