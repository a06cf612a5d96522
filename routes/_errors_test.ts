import assert from "node:assert/strict";
import { Hono } from "hono";
import { AppError, ERROR_CODES } from "../lib/errors.ts";
import { codeForStatus, errorHeaders, errorResponse, errorStatus, isRefusal } from "./_errors.tsx";

Deno.test("every error code has a status; only the server's own failures are 5xx", () => {
  for (const code of ERROR_CODES) {
    const status = errorStatus(new AppError(code, "x"));
    assert.ok(status >= 400 && status < 600, `${code}: ${status}`);
    const ours = ["internal", "upstream_unavailable", "unavailable"].includes(code);
    assert.equal(status >= 500, ours, code);
    assert.equal(isRefusal(new AppError(code, "x")), !ours, code);
  }
  assert.equal(isRefusal(new Error("x")), false);
  assert.equal(codeForStatus(415), "unsupported_media_type");
  assert.equal(codeForStatus(418), "bad_request");
  assert.equal(codeForStatus(503), "bad_request");
});

Deno.test("details give the headers: retryAfterSeconds is Retry-After, a 401 names its scheme", () => {
  assert.deepEqual(
    errorHeaders(new AppError("rate_limited", "Slow down.", { retryAfterSeconds: 2.2 })),
    { "Retry-After": "3" },
  );
  assert.deepEqual(errorHeaders(new AppError("rate_limited", "Slow down.")), {});
  assert.deepEqual(errorHeaders(new AppError("unauthorized", "Sign in.")), {
    "WWW-Authenticate": 'Bearer realm="hurukuro"',
  });
});

// Pages get the same status and headers with an HTML body: tests/security_test.ts, through the app.
Deno.test("the API gets the envelope with the status and headers", async () => {
  const app = new Hono();
  const error = new AppError("rate_limited", "Too many requests.", { retryAfterSeconds: 30 });
  app.get("*", () => {
    throw error;
  });
  app.onError((e, c) => errorResponse(c, e as AppError));

  const api = await app.request("/api/v1/anything");
  assert.equal(api.status, 429);
  assert.equal(api.headers.get("retry-after"), "30");
  assert.deepEqual(await api.json(), {
    error: {
      code: "rate_limited",
      message: "Too many requests.",
      details: { retryAfterSeconds: 30 },
    },
  });
});
