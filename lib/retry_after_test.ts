import assert from "node:assert/strict";
import { LONGEST_RETRY_AFTER_MS, retryAfterMs } from "./retry_after.ts";

Deno.test("Retry-After: milliseconds before seconds or an HTTP date, capped, garbage ignored", () => {
  const now = Date.parse("2026-11-23T10:00:00Z");
  const wait = (fields: Record<string, string>) => retryAfterMs(new Headers(fields), now);
  assert.equal(wait({ "retry-after": "2" }), 2_000);
  assert.equal(wait({ "retry-after": " 1.5 " }), 1_500);
  assert.equal(wait({ "retry-after-ms": "250" }), 250);
  assert.equal(wait({ "retry-after": "30", "retry-after-ms": "120" }), 120);
  assert.equal(wait({ "retry-after-ms": "x", "retry-after": "3" }), 3_000);
  assert.equal(wait({ "retry-after": "Mon, 23 Nov 2026 10:00:07 GMT" }), 7_000);
  // A date in the past: now.
  assert.equal(wait({ "retry-after": "Mon, 23 Nov 2026 09:59:00 GMT" }), 0);
  // More than a day (or more than a timer or an interval holds): a day.
  assert.equal(wait({ "retry-after": "100000000000000000000" }), LONGEST_RETRY_AFTER_MS);
  assert.equal(wait({ "retry-after": "Fri, 01 Jan 2100 00:00:00 GMT" }), LONGEST_RETRY_AFTER_MS);
  for (const garbage of ["soon", "-5", "1e3", "0x10", " ", ""]) {
    assert.equal(wait({ "retry-after": garbage }), undefined, JSON.stringify(garbage));
  }
  assert.equal(wait({}), undefined);
  assert.equal(retryAfterMs(undefined), undefined);
  assert.equal(retryAfterMs(null), undefined);
});
