import assert from "node:assert/strict";
import { isFinalOutcome, type PaynowOutcome, paynowOutcome } from "./status.ts";

const TABLE: Array<[string, PaynowOutcome]> = [
  ["Paid", "paid"],
  ["Awaiting Delivery", "paid"],
  ["Delivered", "paid"],
  ["Created", "pending"],
  ["Sent", "pending"],
  ["Awaiting Redirect", "pending"],
  ["Created but not paid", "pending"],
  ["Cancelled", "cancelled"],
  ["Failed", "failed"],
  ["Disputed", "failed"],
  ["Refunded", "failed"],
];

Deno.test("every Paynow status maps to its outcome, whatever its case and spacing", () => {
  for (const [status, outcome] of TABLE) {
    assert.equal(paynowOutcome(status), outcome, status);
    assert.equal(paynowOutcome(status.toUpperCase()), outcome, status.toUpperCase());
    assert.equal(paynowOutcome(` ${status.toLowerCase().replace(/ /g, "  ")} `), outcome, status);
  }
});

Deno.test("a status Paynow never documented is unknown, not pending or paid", () => {
  assert.equal(paynowOutcome("Paid!"), "unknown");
  assert.equal(paynowOutcome(""), "unknown");
  assert.equal(paynowOutcome("Ok"), "unknown");
});

Deno.test("only paid, cancelled and failed are final", () => {
  const finals = (["paid", "pending", "cancelled", "failed", "unknown"] as const).filter(
    isFinalOutcome,
  );
  assert.deepEqual(finals, ["paid", "cancelled", "failed"]);
});
