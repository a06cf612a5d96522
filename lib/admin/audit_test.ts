import assert from "node:assert/strict";
import { auditDiff } from "./audit.ts";

Deno.test("auditDiff lists only the values that changed, by path", () => {
  assert.deepEqual(
    auditDiff(
      { tier: "free", prices: { USD: "1.00", ZiG: "30" }, tags: ["a"] },
      { tier: "pro", prices: { USD: "1.00", ZiG: "35" }, tags: ["a", "b"] },
    ),
    [
      { path: "prices.ZiG", before: "30", after: "35" },
      { path: "tags", before: ["a"], after: ["a", "b"] },
      { path: "tier", before: "free", after: "pro" },
    ],
  );
  assert.deepEqual(auditDiff({ a: 1 }, { a: 1 }), []);
});

Deno.test("auditDiff shows a creation or a deletion key by key", () => {
  assert.deepEqual(auditDiff(null, { name: "Starter", tokens: 100 }), [
    { path: "name", before: undefined, after: "Starter" },
    { path: "tokens", before: undefined, after: 100 },
  ]);
  assert.deepEqual(auditDiff({ name: "Starter" }, null), [
    { path: "name", before: "Starter", after: undefined },
  ]);
  assert.deepEqual(auditDiff(5, 7), [{ path: "", before: 5, after: 7 }]);
});
