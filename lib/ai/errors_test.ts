import assert from "node:assert/strict";
import {
  AiBadKeyError,
  AiBadRequestError,
  AiContextTooLongError,
  AiRateLimitError,
  AiTimeoutError,
  AiUpstreamError,
  errorFromHttp,
  USER_MESSAGES,
} from "./errors.ts";

const http = (status: number, extra: Partial<Parameters<typeof errorFromHttp>[0]> = {}) =>
  errorFromHttp({ status, message: `upstream said ${status}`, provider: "openai", ...extra });

Deno.test("each HTTP failure maps to its typed error", () => {
  assert.ok(http(401) instanceof AiBadKeyError);
  assert.ok(http(403) instanceof AiBadKeyError);
  assert.ok(http(429) instanceof AiRateLimitError);
  assert.ok(http(500) instanceof AiUpstreamError);
  assert.ok(http(503) instanceof AiUpstreamError);
  assert.ok(http(529) instanceof AiUpstreamError);
  assert.ok(http(408) instanceof AiUpstreamError);
  assert.ok(http(400) instanceof AiBadRequestError);
  assert.ok(http(404) instanceof AiBadRequestError);
  assert.ok(http(400, { contextTooLong: true }) instanceof AiContextTooLongError);
});

Deno.test("a quota error is a rate limit that is not retryable, whatever its status", () => {
  const quota = http(400, { quota: true });
  assert.ok(quota instanceof AiRateLimitError);
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
  assert.equal(new AiTimeoutError("x").userMessage, USER_MESSAGES.timeout);
  for (const status of [400, 401, 429, 500]) {
    assert.ok(!http(status).userMessage.includes("upstream said"));
  }
});
