import assert from "node:assert/strict";
import { createFormat } from "./format.ts";

Deno.test("counts and money carry thousands separators; money its two decimals", () => {
  const f = createFormat("Africa/Harare");
  assert.equal(f.count(1234567), "1,234,567");
  assert.equal(f.count("20000"), "20,000");
  assert.equal(f.count(12n), "12");
  assert.equal(f.money("USD", "1.5"), "USD 1.50");
  assert.equal(f.money("ZiG", 12500), "ZiG 12,500.00");
});

Deno.test("times are shown in the configured zone, labelled", () => {
  const instant = new Date("2026-03-01T22:30:00Z");
  const harare = createFormat("Africa/Harare");
  // 22:30 UTC is half past midnight the next day in Harare (UTC+2).
  assert.match(harare.dateTime(instant), /^0?2 Mar,? 2026, 00:30 CAT$/);
  assert.match(harare.date(instant), /^0?2 Mar,? 2026$/);
  assert.equal(harare.time(instant), "00:30 CAT");
  assert.equal(harare.zoneLabel, "Central Africa Time (GMT+02:00)");
  const utc = createFormat("UTC");
  assert.match(utc.dateTime(instant.toISOString()), /^0?1 Mar,? 2026, 22:30 UTC$/);
  assert.equal(createFormat("UTC"), utc, "one formatter per zone");
});
