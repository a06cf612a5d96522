/** The chat modes written once in code are the ones the SQL CHECKs list. */
import assert from "node:assert/strict";
import { MODES } from "./conversations.ts";

Deno.test("conversations and messages check their mode against MODES", async () => {
  const sql = await Deno.readTextFile(
    new URL("../../migrations/0004_ai_chat.sql", import.meta.url),
  );
  const checks = [...sql.matchAll(/check \(mode in \(([^)]*)\)\)/g)];
  assert.equal(checks.length, 2, "conversations and messages");
  for (const m of checks) {
    assert.deepEqual([...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]), [...MODES]);
  }
});
