import assert from "node:assert/strict";
import { SolvencyHints } from "./solvency.ts";

Deno.test("a user covers an answer only after passing with enough left, until refused", () => {
  const hints = new SolvencyHints();
  assert(!hints.covers("ann", 1), "never seen: no early start");
  hints.passed("ann", 500);
  assert(hints.covers("ann", 500));
  assert(!hints.covers("ann", 501), "more than was left");
  hints.refused("ann");
  assert(!hints.covers("ann", 1), "a refusal drops the hint");
});

Deno.test("an old sighting says nothing, and the oldest user is forgotten first", () => {
  let now = 0;
  const hints = new SolvencyHints(2, 1_000, () => now);
  hints.passed("ann", 10);
  now = 1_001;
  assert(!hints.covers("ann", 1), "older than the limit");
  assert.equal(hints.size, 0);

  hints.passed("ann", 10);
  hints.passed("ben", 10);
  hints.passed("ann", 10); // seen again: now the newest
  hints.passed("cat", 10);
  assert.equal(hints.size, 2);
  assert(!hints.covers("ben", 1), "the oldest sighting went");
  assert(hints.covers("ann", 1) && hints.covers("cat", 1));
});
